"""moto's server for benchmarks at library scale (thousands of items in one table).

moto 5.2.5's TransactWriteItems deep-copies every table it touches before applying the
transaction, so that it can roll back: each transaction costs time proportional to the whole
table (about 3 s per upload at 1,000 documents, so 10,000 uploads would take days), and the copy
races with concurrent writes ("dictionary changed size during iteration", answered as a 500).
DynamoDB's own cost does not depend on the table's size. This launcher keeps moto's semantics
(all or nothing, conditions checked, the same errors) but snapshots only the items the
transaction names, and restores those on rollback. Used by `scripts/bench.sh api-search` only;
the test command runs moto unchanged.

Its Query on the base table also lists and sorts the whole table for every page; here it
reads the partition asked for (same items, same order).

Usage: python moto_bench_server.py -H 127.0.0.1 -p PORT (moto_server's arguments).
"""

import copy
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module

_original = DynamoDBBackend.transact_write_items
# One transaction at a time, as DynamoDB serialises conflicting ones; moto's server is threaded.
_lock = threading.Lock()


class _TableProxy:
    """Stands in for the deep copy of a table: nothing is copied, nothing restored by moto."""


def _key_of(backend, op_type, op):
    table = backend.get_table(op["TableName"])
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def transact_write_items(self, transact_items):
    with _lock:
        snapshots = []
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            if op.get("TableName") not in self.tables:
                continue
            key = _key_of(self, op_type, op)
            current = self.get_item(op["TableName"], key)
            snapshots.append((op["TableName"], key, copy.deepcopy(current)))
        real_deepcopy = copy.deepcopy

        def shallow_for_tables(value, *args, **kwargs):
            # moto's rollback assigns its copy back; handing it the live table makes that a no-op,
            # and the touched items are restored below instead.
            if isinstance(value, table_module.Table):
                return value
            return real_deepcopy(value, *args, **kwargs)

        copy.deepcopy = shallow_for_tables
        try:
            return _original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(snapshots):
                table = self.get_table(table_name)
                hash_value, range_value = self.get_keys_value(table, key)
                if before is None:
                    if table.get_item(hash_value, range_value) is not None:
                        table.delete_item(hash_value, range_value)
                else:
                    table.put_item(before.to_json()["Attributes"], overwrite=True)
            raise
        finally:
            copy.deepcopy = real_deepcopy


DynamoDBBackend.transact_write_items = transact_write_items

# moto's Query on the base table lists the whole table, sorted, for every page
# (`Table.all_items`), then keeps the partition asked for: at 10,000 documents a page took over
# DynamoDB's 3 s attempt timeout. While a base-table query runs on this thread, `all_items`
# returns only that partition, sorted by range key: the same items in the same order.
_query_partition = threading.local()
_original_all_items = table_module.Table.all_items
_original_query = table_module.Table.query


def all_items(self):
    hash_key = getattr(_query_partition, "key", None)
    if hash_key is None:
        return _original_all_items(self)
    partition = self.items.get(hash_key)
    if not partition:
        return []
    if not self.range_key_attr:
        return [partition]
    return sorted(partition.values(), key=lambda item: item.range_key)


def query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is not None or hash_key is None:
        return _original_query(self, hash_key, *args, **kwargs)
    _query_partition.key = hash_key
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _query_partition.key = None


table_module.Table.all_items = all_items
table_module.Table.query = query


def self_test():
    """A failed transaction leaves no trace and a good one lands, with the patch in place."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
        put_b = {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}}
        bump_a = {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}},
                             "UpdateExpression": "SET v = :two",
                             "ExpressionAttributeValues": {":two": {"N": "2"}}}}
        fail = {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "a"}},
                                   "ConditionExpression": "attribute_not_exists(pk)"}}
        try:
            ddb.transact_write_items(TransactItems=[put_b, {"Update": {**bump_a["Update"], "Key": {"pk": {"S": "c"}}}}, fail])
            raise SystemExit("self-test: a transaction with a failing condition landed")
        except ddb.exceptions.TransactionCanceledException:
            pass
        assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "b"}}), "put not rolled back"
        assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "c"}}), "update not rolled back"
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "1"}
        ddb.transact_write_items(TransactItems=[put_b, bump_a])
        assert "Item" in ddb.get_item(TableName="t", Key={"pk": {"S": "b"}}), "put lost"
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "2"}
        # Queries see their partition only, in order, page by page.
        ddb.create_table(
            TableName="q",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        for pk in ("u1", "u2"):
            for i in (3, 1, 2, 5, 4):
                ddb.put_item(TableName="q", Item={"pk": {"S": pk}, "sk": {"S": f"DOC#{i}"}})
        seen, start = [], None
        while True:
            page = ddb.query(TableName="q", KeyConditionExpression="pk = :p AND begins_with(sk, :d)",
                             ExpressionAttributeValues={":p": {"S": "u2"}, ":d": {"S": "DOC#"}},
                             Limit=2, **({"ExclusiveStartKey": start} if start else {}))
            seen += [(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        assert seen == [("u2", f"DOC#{i}") for i in range(1, 6)], seen
        backwards = ddb.query(TableName="q", KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "u1"}}, ScanIndexForward=False)
        assert [i["sk"]["S"] for i in backwards["Items"]] == [f"DOC#{i}" for i in range(5, 0, -1)]
        assert len(ddb.scan(TableName="q")["Items"]) == 10
    print("moto_bench_server self-test: rollback, commit and queries as moto's own")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--self-test"]:
        self_test()
    else:
        from moto.server import main

        main()
