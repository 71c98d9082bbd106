"""moto's server for benchmarks at library scale (thousands of items in one table).

moto 5.2.5's TransactWriteItems deep-copies every table it touches before applying the
transaction, so that it can roll back: each transaction costs time proportional to the whole
table (about 3 s per upload at 1,000 documents, so 10,000 uploads would take days), and the copy
races with concurrent writes ("dictionary changed size during iteration", answered as a 500).
DynamoDB's own cost does not depend on the table's size. This launcher keeps moto's semantics
(all or nothing, conditions checked, the same errors) but snapshots only the items the
transaction names, and restores those on rollback. Used by `scripts/bench.sh api-search` only;
the test command runs moto unchanged.

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
    print("moto_bench_server self-test: rollback and commit as moto's own")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--self-test"]:
        self_test()
    else:
        from moto.server import main

        main()
