//! `ragenie admin …`: the operator's commands, through the admin API with an admin's API key —
//! accounts (list, approve, suspend, reactivate, role, quota, allowed models), who may sign up,
//! invites, models (list, add, enable, disable, price) and the admin list's backfill.

use std::io::Write;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::{Client, encode_query};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List accounts with this month's spending.
    Users {
        /// Only accounts with this status.
        #[arg(long, value_enum)]
        status: Option<StatusFilter>,
        /// Part of the email.
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending account (by email or id).
    Approve { user: String },
    /// Suspend an account: its sessions and API keys stop working at its next request.
    Suspend { user: String },
    /// Reactivate a suspended account.
    Reactivate { user: String },
    /// Make an account an admin or a plain user.
    Role {
        user: String,
        #[arg(value_enum)]
        role: RoleName,
    },
    /// Set an account's monthly quota in USD (`default`: the operator's default quota).
    Quota { user: String, usd: String },
    /// Restrict an account to these models (`--all`: lift the restriction).
    AllowModels {
        user: String,
        models: Vec<String>,
        #[arg(long, conflicts_with = "models")]
        all: bool,
    },
    /// Set who may sign up.
    Registration {
        #[arg(value_enum)]
        policy: Policy,
    },
    /// Create a single-use invite and print its token.
    Invite {
        /// Hours it stays valid (default 72).
        #[arg(long)]
        hours: Option<u32>,
    },
    /// Manage models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Add accounts created before the admin list's index to it (idempotent).
    BackfillUsers,
    /// Check the store's integrity, against the store itself with the server's settings (not
    /// through the API): files nothing references, items whose parent is gone, documents stuck
    /// `pending`/`processing`, ready documents missing their index, messages without a
    /// conversation. Exits non-zero when it finds any.
    Fsck(crate::admin_fsck::FsckArgs),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every chat model with its state, limits and prices.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a model of a configured provider (e.g. an Ollama model: --provider openai_compatible).
    Add {
        id: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        context_window: Option<u32>,
        #[arg(long)]
        max_output_tokens: Option<u32>,
        /// USD per million input tokens (with --output-price).
        #[arg(long, requires = "output_price")]
        input_price: Option<f64>,
        /// USD per million output tokens (with --input-price).
        #[arg(long, requires = "input_price")]
        output_price: Option<f64>,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    /// Set a model's prices, USD per million input and output tokens.
    Price {
        id: String,
        input: f64,
        output: f64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Active,
    Pending,
    Suspended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleName {
    Admin,
    User,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    Open,
    Approval,
    Invite,
    Closed,
}

fn name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// The id of an account named by id or email.
async fn user_id(client: &Client, user: &str) -> anyhow::Result<String> {
    if !user.contains('@') {
        return Ok(user.to_owned());
    }
    let email = user.trim().to_lowercase();
    let page = client
        .call(
            reqwest::Method::GET,
            &format!("/admin/users?q={}", encode_query(&email)),
            None,
        )
        .await?;
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == email.as_str())
        .and_then(|u| u["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no account with the email {email}"))
}

async fn patch_user(client: &Client, user: &str, body: Value) -> anyhow::Result<Value> {
    let id = user_id(client, user).await?;
    Ok(client
        .call(
            reqwest::Method::PATCH,
            &format!("/admin/users/{}", encode_query(&id)),
            Some(&body),
        )
        .await?)
}

fn user_line(u: &Value) -> String {
    let quota = match u["monthly_quota_usd"].as_f64() {
        Some(q) => format!("quota ${q:.2}"),
        None => "default quota".into(),
    };
    let models = match u["allowed_models"].as_array() {
        Some(list) => format!(
            ", models {}",
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        ),
        None => String::new(),
    };
    format!(
        "{}  {:<32} {:<6} {:<9} ${:.4} this month, {quota}{models}",
        u["id"].as_str().unwrap_or_default(),
        u["email"].as_str().unwrap_or_default(),
        u["role"].as_str().unwrap_or_default(),
        u["status"].as_str().unwrap_or_default(),
        u["month"]["spent_usd"].as_f64().unwrap_or_default(),
    )
}

fn model_line(m: &Value) -> String {
    let price = match (m["input_price"].as_f64(), m["output_price"].as_f64()) {
        (Some(i), Some(o)) => format!("${i}/${o} per M in/out"),
        _ => "price unknown".into(),
    };
    format!(
        "{} {:<36} {:<18} {:>9} ctx  {}{}{}",
        if m["enabled"] == true { "+" } else { "-" },
        m["id"].as_str().unwrap_or_default(),
        m["provider"].as_str().unwrap_or_default(),
        m["context_window"].as_u64().unwrap_or_default(),
        price,
        if m["source"] == "added" {
            "  (added)"
        } else {
            ""
        },
        if m["available"] == true {
            String::new()
        } else {
            format!(
                "  (unavailable: {})",
                m["unavailable_reason"].as_str().unwrap_or("not configured")
            )
        },
    )
}

fn model_path(id: &str) -> String {
    format!("/admin/models/{}", encode_query(id))
}

/// Runs an admin command and prints what changed.
pub async fn run(
    client: &Client,
    command: AdminCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use reqwest::Method;
    match command {
        AdminCommand::Users { status, q, json } => {
            let mut path = "/admin/users?limit=100".to_owned();
            if let Some(s) = status {
                path.push_str(&format!("&status={}", name(s)));
            }
            if let Some(q) = q {
                path.push_str(&format!("&q={}", encode_query(&q)));
            }
            let mut users = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let url = match &cursor {
                    Some(c) => format!("{path}&cursor={}", encode_query(c)),
                    None => path.clone(),
                };
                let page = client.call(Method::GET, &url, None).await?;
                users.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(c) if Some(c) != cursor.as_deref() => cursor = Some(c.to_owned()),
                    _ => break,
                }
            }
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&users)?)?;
            } else if users.is_empty() {
                writeln!(out, "No accounts match.")?;
            } else {
                for u in &users {
                    writeln!(out, "{}", user_line(u))?;
                }
            }
        }
        AdminCommand::Approve { user } | AdminCommand::Reactivate { user } => {
            let u = patch_user(client, &user, json!({"status": "active"})).await?;
            writeln!(out, "{}", user_line(&u))?;
        }
        AdminCommand::Suspend { user } => {
            let u = patch_user(client, &user, json!({"status": "suspended"})).await?;
            writeln!(out, "{}", user_line(&u))?;
        }
        AdminCommand::Role { user, role } => {
            let u = patch_user(client, &user, json!({"role": name(role)})).await?;
            writeln!(out, "{}", user_line(&u))?;
        }
        AdminCommand::Quota { user, usd } => {
            let quota = match usd.trim() {
                "default" | "none" => Value::Null,
                v => {
                    let n: f64 = v
                        .trim_start_matches('$')
                        .parse()
                        .with_context(|| format!("`{v}` is not an amount of dollars"))?;
                    json!(n)
                }
            };
            let u = patch_user(client, &user, json!({"monthly_quota_usd": quota})).await?;
            writeln!(out, "{}", user_line(&u))?;
        }
        AdminCommand::AllowModels { user, models, all } => {
            if !all && models.is_empty() {
                bail!("name the models to allow, or --all to lift the restriction");
            }
            let list = if all { Value::Null } else { json!(models) };
            let u = patch_user(client, &user, json!({"allowed_models": list})).await?;
            writeln!(out, "{}", user_line(&u))?;
        }
        AdminCommand::Registration { policy } => {
            let mut settings = client.call(Method::GET, "/admin/settings", None).await?;
            settings["registration"] = json!(name(policy));
            let saved = client
                .call(Method::PUT, "/admin/settings", Some(&settings))
                .await?;
            writeln!(
                out,
                "Registration: {}",
                saved["registration"].as_str().unwrap_or_default()
            )?;
        }
        AdminCommand::Invite { hours } => {
            let body = match hours {
                Some(h) => json!({"expires_in_hours": h}),
                None => json!({}),
            };
            let invite = client
                .call(Method::POST, "/admin/invites", Some(&body))
                .await?;
            writeln!(
                out,
                "Invite token (shown once; link: <server>/register?invite=<token>):\n{}",
                invite["token"].as_str().unwrap_or_default()
            )?;
        }
        AdminCommand::Models { command } => models(client, command, out).await?,
        AdminCommand::BackfillUsers => {
            let (mut scanned, mut indexed) = (0, 0);
            let mut cursor = Value::Null;
            loop {
                let run = client
                    .call(
                        Method::POST,
                        "/admin/users-index",
                        Some(&json!({"cursor": cursor})),
                    )
                    .await?;
                scanned += run["scanned"].as_u64().unwrap_or_default();
                indexed += run["indexed"].as_u64().unwrap_or_default();
                match &run["next_cursor"] {
                    Value::String(c) if Value::String(c.clone()) != cursor => {
                        cursor = Value::String(c.clone())
                    }
                    _ => break,
                }
            }
            writeln!(
                out,
                "{scanned} accounts read, {indexed} added to the admin list."
            )?;
        }
        // Not an API call: `cli::execute` runs it against the store before any client exists.
        AdminCommand::Fsck(args) => crate::admin_fsck::run(args, out).await?,
    }
    Ok(())
}

async fn models(
    client: &Client,
    command: ModelsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use reqwest::Method;
    let changed = match command {
        ModelsCommand::List { json } => {
            let list = client.call(Method::GET, "/admin/models", None).await?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            } else {
                for m in &items {
                    writeln!(out, "{}", model_line(m))?;
                }
            }
            return Ok(());
        }
        ModelsCommand::Add {
            id,
            provider,
            context_window,
            max_output_tokens,
            input_price,
            output_price,
        } => {
            let body = json!({"id": id, "provider": provider, "context_window": context_window,
                "max_output_tokens": max_output_tokens, "input_price": input_price,
                "output_price": output_price});
            client
                .call(Method::POST, "/admin/models", Some(&body))
                .await?
        }
        ModelsCommand::Enable { id } => {
            let body = json!({"enabled": true});
            client
                .call(Method::PATCH, &model_path(&id), Some(&body))
                .await?
        }
        ModelsCommand::Disable { id } => {
            let body = json!({"enabled": false});
            client
                .call(Method::PATCH, &model_path(&id), Some(&body))
                .await?
        }
        ModelsCommand::Price { id, input, output } => {
            let body = json!({"input_price": input, "output_price": output});
            client
                .call(Method::PATCH, &model_path(&id), Some(&body))
                .await?
        }
    };
    writeln!(out, "{}", model_line(&changed))?;
    Ok(())
}
