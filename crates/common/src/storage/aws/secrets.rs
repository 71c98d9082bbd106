//! Secrets Manager behind the `Secrets` port.

use super::*;

/// Secrets Manager, by secret name or ARN.
#[derive(Clone)]
pub struct AwsSecrets {
    client: aws_sdk_secretsmanager::Client,
}

impl AwsSecrets {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk)
                    .timeout_config(policy::timeout_config(policy::Service::SecretsManager))
                    .build(),
            ),
        }
    }

    pub fn client(&self) -> &aws_sdk_secretsmanager::Client {
        &self.client
    }
}

#[async_trait]
impl Secrets for AwsSecrets {
    #[tracing::instrument(skip(self), level = "debug")]
    async fn get_string(&self, name: &str) -> StoreResult<Option<String>> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(o) => Ok(o.secret_string().map(str::to_owned)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(sdk_error("reading a secret")(err)),
        }
    }
}
