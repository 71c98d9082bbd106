//! DynamoDB behind the `Table` port: the single-table layout, expressions, errors.

use super::*;

/// A DynamoDB table in the single-table layout (`pk`, `sk`, index `gsi1`, TTL `expires_at`).
#[derive(Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoTable {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .timeout_config(policy::timeout_config(policy::Service::DynamoDb))
                    .build(),
            ),
            table: table.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    /// Creates the table with its index and TTL, as the IaC does (for tests and emulators).
    pub async fn create_table(&self) -> anyhow::Result<()> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
            Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
        };
        let def = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(def(attr::PK)?)
            .attribute_definitions(def(attr::SK)?)
            .attribute_definitions(def(attr::GSI1_PK)?)
            .attribute_definitions(def(attr::GSI1_SK)?)
            .key_schema(key(attr::PK, KeyType::Hash)?)
            .key_schema(key(attr::SK, KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("gsi1")
                    .key_schema(key(attr::GSI1_PK, KeyType::Hash)?)
                    .key_schema(key(attr::GSI1_SK, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .context("creating the table")?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr::EXPIRES_AT)
                    .build()?,
            )
            .send()
            .await
            .context("enabling TTL")?;
        Ok(())
    }
}

pub(super) fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

pub(super) fn number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

pub(super) fn from_attr(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        _ => Value::Null,
    }
}

pub(super) fn to_map(item: &Item) -> HashMap<String, AttributeValue> {
    let mut map: HashMap<String, AttributeValue> = item
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect();
    map.insert(attr::PK.into(), AttributeValue::S(item.pk.clone()));
    map.insert(attr::SK.into(), AttributeValue::S(item.sk.clone()));
    map
}

pub(super) fn from_map(map: &HashMap<String, AttributeValue>) -> StoreResult<Item> {
    let json: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect();
    Item::from_json(Value::Object(json))
}

pub(super) fn key_map(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (attr::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// Collects expression attribute names and values so only those used are sent (DynamoDB
/// refuses unused ones).
#[derive(Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn text(&mut self, value: &str) -> String {
        self.value(AttributeValue::S(value.to_owned()))
    }

    /// The condition on the sort key `attribute` that `sort` sets, for a query's key condition
    /// or a scan's filter; `None` (and the attribute left unnamed) when it reads every key.
    fn sort_key(&mut self, attribute: &str, sort: &SortKey) -> Option<String> {
        let sk = |e: &mut Self| e.name(attribute);
        Some(match sort {
            SortKey::All => return None,
            SortKey::Prefix(p) => format!("begins_with({}, {})", sk(self), self.text(p)),
            SortKey::Between(lo, hi) => {
                let (sk, lo, hi) = (sk(self), self.text(lo), self.text(hi));
                format!("{sk} BETWEEN {lo} AND {hi}")
            }
            SortKey::AtLeast(lo) => format!("{} >= {}", sk(self), self.text(lo)),
            SortKey::AtMost(hi) => format!("{} <= {}", sk(self), self.text(hi)),
        })
    }

    /// A live (not expired) item: TTL deletion is lazy in DynamoDB, so reads filter it.
    fn live(&mut self, now: i64) -> String {
        let exp = self.name(attr::EXPIRES_AT);
        let now = self.value(AttributeValue::N(now.to_string()));
        format!("(attribute_not_exists({exp}) OR {exp} > {now})")
    }

    fn condition(&mut self, condition: &Condition, now: i64) -> Option<String> {
        let pk = self.name(attr::PK);
        match condition {
            Condition::None => {
                self.names.clear();
                None
            }
            Condition::NotExists => {
                let exp = self.name(attr::EXPIRES_AT);
                let now = self.value(AttributeValue::N(now.to_string()));
                Some(format!("(attribute_not_exists({pk}) OR {exp} <= {now})"))
            }
            Condition::Exists => {
                let live = self.live(now);
                Some(format!("attribute_exists({pk}) AND {live}"))
            }
            Condition::AttrEquals(name, value) => {
                let live = self.live(now);
                let n = self.name(name);
                let v = self.value(to_attr(value));
                Some(format!("attribute_exists({pk}) AND {live} AND {n} = {v}"))
            }
            Condition::AttrAtMost(name, max) => {
                let exp = self.name(attr::EXPIRES_AT);
                let now = self.value(AttributeValue::N(now.to_string()));
                let n = self.name(name);
                let v = self.value(AttributeValue::N(max.to_string()));
                Some(format!(
                    "(attribute_not_exists({pk}) OR {exp} <= {now} OR attribute_not_exists({n}) OR {n} <= {v})"
                ))
            }
        }
    }

    fn update(&mut self, update: &Update) -> String {
        let mut clauses = Vec::new();
        if !update.set.is_empty() {
            let parts: Vec<String> = update
                .set
                .iter()
                .map(|(k, v)| {
                    let (n, v) = (self.name(k), self.value(to_attr(v)));
                    format!("{n} = {v}")
                })
                .collect();
            clauses.push(format!("SET {}", parts.join(", ")));
        }
        if !update.add.is_empty() {
            let parts: Vec<String> = update
                .add
                .iter()
                .map(|(k, d)| {
                    let (n, v) = (self.name(k), self.value(AttributeValue::N(d.to_string())));
                    format!("{n} {v}")
                })
                .collect();
            clauses.push(format!("ADD {}", parts.join(", ")));
        }
        if !update.remove.is_empty() {
            let parts: Vec<String> = update.remove.iter().map(|k| self.name(k)).collect();
            clauses.push(format!("REMOVE {}", parts.join(", ")));
        }
        clauses.join(" ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// What every DynamoDB write request carries the same way: the table, the condition, and the
/// names and values its expressions use. The SDK's seven write builders (three operations,
/// four kinds of transaction item) share no trait for it, hence this one.
trait ConditionalWrite: Sized {
    fn conditioned(self, table: &str, condition: Option<String>, e: &Expr) -> Self;
}

macro_rules! conditional_write {
    ($($builder:ty),+) => {$(
        impl ConditionalWrite for $builder {
            fn conditioned(self, table: &str, condition: Option<String>, e: &Expr) -> Self {
                self.table_name(table)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
            }
        }
    )+};
}

conditional_write!(
    aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder,
    aws_sdk_dynamodb::types::builders::PutBuilder,
    aws_sdk_dynamodb::types::builders::UpdateBuilder,
    aws_sdk_dynamodb::types::builders::DeleteBuilder,
    aws_sdk_dynamodb::types::builders::ConditionCheckBuilder
);

/// Maps the errors DynamoDB reports for bad writes to the port's errors.
pub(super) fn write_error<E>(err: SdkError<E>, context: &'static str) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(service) = err.as_service_error() {
        match service.code() {
            Some("ConditionalCheckFailedException") => return StoreError::ConditionFailed,
            Some("ValidationException")
                if service.message().is_some_and(|m| m.contains("size")) =>
            {
                return StoreError::ItemTooLarge {
                    size: MAX_ITEM_BYTES + 1,
                    limit: MAX_ITEM_BYTES,
                };
            }
            Some("TransactionCanceledException") => {
                let message = service.message().unwrap_or_default();
                if message.contains("ConditionalCheckFailed") {
                    return StoreError::ConditionFailed;
                }
                if message.contains("ThrottlingError") {
                    return StoreError::Throttled;
                }
                return StoreError::TransactionCanceled(message.to_owned());
            }
            _ => {}
        }
    }
    sdk_error(context)(err)
}

/// Retries of a transaction cancelled by a conflicting one.
const TRANSACTION_CONFLICT_RETRIES: u32 = 8;

impl DynamoTable {
    async fn run_query(&self, query: Query, index: bool) -> StoreResult<Page> {
        let cursor = query.checked_cursor(index)?;
        let (pk_attr, sk_attr) = if index {
            (attr::GSI1_PK, attr::GSI1_SK)
        } else {
            (attr::PK, attr::SK)
        };
        let mut e = Expr::default();
        let pk = e.name(pk_attr);
        let pk_value = e.text(&query.pk);
        let mut key_condition = format!("{pk} = {pk_value}");
        if let Some(sort) = e.sort_key(sk_attr, &query.sort) {
            key_condition += &format!(" AND {sort}");
        }
        let filter = e.live(clock::unix_now());
        let start_key = cursor.map(|c| {
            let mut key = key_map(&c.pk, &c.sk);
            if let Some((ipk, isk)) = c.index {
                key.insert(attr::GSI1_PK.into(), AttributeValue::S(ipk));
                key.insert(attr::GSI1_SK.into(), AttributeValue::S(isk));
            }
            key
        });
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(query.order == Order::Ascending)
            .limit(query.limit as i32)
            .set_exclusive_start_key(start_key);
        request = if index {
            request.index_name("gsi1")
        } else {
            request.consistent_read(true)
        };
        let output = request
            .send()
            .await
            .map_err(|err| write_error(err, "querying the table"))?;
        page(output.items(), output.last_evaluated_key(), index)
    }
}

/// A page of what a Query or a Scan read, with a cursor at the last key it evaluated (and that
/// key's index keys, for a query of the index).
fn page(
    items: &[HashMap<String, AttributeValue>],
    last_key: Option<&HashMap<String, AttributeValue>>,
    index: bool,
) -> StoreResult<Page> {
    let items = items
        .iter()
        .map(from_map)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = last_key.map(|key| {
        let get = |n: &str| match key.get(n) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        let index = index.then(|| (get(attr::GSI1_PK), get(attr::GSI1_SK)));
        Cursor {
            pk: get(attr::PK),
            sk: get(attr::SK),
            index,
        }
        .encode()
    });
    Ok(Page { items, next_cursor })
}

#[async_trait]
impl Table for DynamoTable {
    #[tracing::instrument(skip(self), level = "debug")]
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        crate::storage::item::validate_key(pk, sk)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| write_error(err, "reading an item"))?;
        match output.item() {
            Some(map) => Ok(Some(from_map(map)?).filter(|i| !i.is_expired_at(clock::unix_now()))),
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all, level = "debug", fields(pk = %item.pk, sk = %item.sk))]
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        item.validate()?;
        let mut e = Expr::default();
        let expression = e.condition(&condition, clock::unix_now());
        self.client
            .put_item()
            .conditioned(&self.table, expression, &e)
            .set_item(Some(to_map(&item)))
            .send()
            .await
            .map_err(|err| write_error(err, "writing an item"))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(pk = request.pk, sk = request.sk))]
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        let UpdateRequest {
            pk,
            sk,
            update,
            condition,
        } = request;
        crate::storage::item::validate_key(pk, sk)?;
        update.validate()?;
        let mut e = Expr::default();
        let expression = e.condition(&condition, clock::unix_now());
        let update_expression = e.update(&update);
        let output = self
            .client
            .update_item()
            .conditioned(&self.table, expression, &e)
            .set_key(Some(key_map(pk, sk)))
            .update_expression(update_expression)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| write_error(err, "updating an item"))?;
        let attributes = output.attributes().ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("UpdateItem returned no attributes"))
        })?;
        from_map(attributes)
    }

    #[tracing::instrument(skip(self, condition), level = "debug")]
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        crate::storage::item::validate_key(pk, sk)?;
        let mut e = Expr::default();
        let expression = e.condition(&condition, clock::unix_now());
        self.client
            .delete_item()
            .conditioned(&self.table, expression, &e)
            .set_key(Some(key_map(pk, sk)))
            .send()
            .await
            .map_err(|err| write_error(err, "deleting an item"))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.run_query(query, false).await
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        self.run_query(query, true).await
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let cursor = scan.checked_cursor()?;
        let mut e = Expr::default();
        let sort = e.sort_key(attr::SK, &scan.sort);
        let live = e.live(clock::unix_now());
        let filter = match sort {
            // `live` is parenthesised already; DynamoDB refuses redundant parentheses.
            Some(sort) => format!("{live} AND {sort}"),
            None => live,
        };
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .consistent_read(true)
            .limit(scan.limit as i32)
            .set_exclusive_start_key(cursor.map(|c| key_map(&c.pk, &c.sk)))
            .send()
            .await
            .map_err(|err| write_error(err, "scanning the table"))?;
        page(output.items(), output.last_evaluated_key(), false)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(writes = ops.len()))]
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        let now = clock::unix_now();
        let build = |e: &'static str| {
            move |err: aws_sdk_dynamodb::error::BuildError| {
                StoreError::Unexpected(anyhow::Error::new(err).context(e))
            }
        };
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let mut e = Expr::default();
            let write = match op {
                TxOp::Put { item, condition } => {
                    let expression = e.condition(condition, now);
                    let put = Put::builder()
                        .conditioned(&self.table, expression, &e)
                        .set_item(Some(to_map(item)))
                        .build()
                        .map_err(build("building a put"))?;
                    TransactWriteItem::builder().put(put).build()
                }
                TxOp::Update {
                    pk,
                    sk,
                    update,
                    condition,
                } => {
                    let expression = e.condition(condition, now);
                    let update_expression = e.update(update);
                    let update = DynamoUpdate::builder()
                        .conditioned(&self.table, expression, &e)
                        .set_key(Some(key_map(pk, sk)))
                        .update_expression(update_expression)
                        .build()
                        .map_err(build("building an update"))?;
                    TransactWriteItem::builder().update(update).build()
                }
                TxOp::Delete { pk, sk, condition } => {
                    let expression = e.condition(condition, now);
                    let delete = Delete::builder()
                        .conditioned(&self.table, expression, &e)
                        .set_key(Some(key_map(pk, sk)))
                        .build()
                        .map_err(build("building a delete"))?;
                    TransactWriteItem::builder().delete(delete).build()
                }
                TxOp::Check { pk, sk, condition } => {
                    let expression = e
                        .condition(condition, now)
                        .ok_or_else(|| StoreError::Invalid("a check needs a condition".into()))?;
                    let check = ConditionCheck::builder()
                        .conditioned(&self.table, Some(expression), &e)
                        .set_key(Some(key_map(pk, sk)))
                        .build()
                        .map_err(build("building a check"))?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(write);
        }
        // A transaction that meets another one on the same item is cancelled with
        // `TransactionConflict` and wrote nothing (e.g. two uploads of one user both bumping the
        // user's corpus version): retried with jittered backoff, as AWS advises.
        let mut attempt = 0u32;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
                .map_err(|err| write_error(err, "writing a transaction"));
            match sent {
                Err(StoreError::TransactionCanceled(reason))
                    if reason.contains("TransactionConflict")
                        && attempt < TRANSACTION_CONFLICT_RETRIES =>
                {
                    attempt += 1;
                    let ceiling = 10u64 << attempt.min(6);
                    let wait = rand::Rng::gen_range(&mut rand::thread_rng(), ceiling / 2..=ceiling);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(e) => return Err(e),
                Ok(_) => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_round_trip_through_attribute_values() {
        let v = json!({"s": "x", "i": 42, "f": 1.5, "b": true, "n": null, "l": [1, "a"], "m": {"k": [false]}});
        assert_eq!(from_attr(&to_attr(&v)), v);
    }

    #[test]
    fn unconditional_writes_send_no_expression_names() {
        let mut e = Expr::default();
        assert_eq!(e.condition(&Condition::None, 0), None);
        assert!(e.names().is_none() && e.values().is_none());
    }
}
