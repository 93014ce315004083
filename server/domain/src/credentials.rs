//! The agents' keys a user keeps with us: sealed at rest, shown back only as "set, ending
//! in …", opened only to hand one to an agent's environment.

use agents::{Agent, KeyKind};
use chrono::Utc;
use entity::credential;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::seal::Secret;
use crate::{Error, Result, Services};

/// A key's last characters for each kind of key the user has set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyHints {
    pub anthropic: Option<String>,
    pub openai: Option<String>,
    pub opencode: Option<String>,
}

impl KeyHints {
    pub fn get(&self, kind: KeyKind) -> Option<&str> {
        match kind {
            KeyKind::Anthropic => self.anthropic.as_deref(),
            KeyKind::OpenAi => self.openai.as_deref(),
            KeyKind::Opencode => self.opencode.as_deref(),
        }
    }
}

/// Anthropic issues two kinds of secret: API keys, and the tokens of a Claude subscription
/// (`sk-ant-oat…`), which Claude Code takes under another variable.
fn is_subscription_token(value: &str) -> bool {
    value.starts_with("sk-ant-oat")
}

async fn row(services: &Services, user_id: i64) -> Result<credential::Model> {
    credential::Entity::find()
        .filter(credential::Column::UserId.eq(user_id))
        .one(&services.db)
        .await?
        .ok_or(Error::NotFound("user"))
}

fn open(services: &Services, sealed: &Option<String>) -> Option<Secret> {
    let sealed = sealed.as_deref()?;
    match services.sealer.open(sealed) {
        Ok(secret) => Some(secret),
        Err(e) => {
            // A key sealed under a key we no longer hold is as good as unset.
            tracing::error!(error = %e, "a sealed agent key does not open");
            None
        }
    }
}

/// The stored value of `kind`, if set.
pub async fn key(services: &Services, user_id: i64, kind: KeyKind) -> Result<Option<Secret>> {
    let row = row(services, user_id).await?;
    Ok(match kind {
        KeyKind::Anthropic => open(services, &row.anthropic_api_key)
            .or_else(|| open(services, &row.anthropic_auth_token)),
        KeyKind::OpenAi => open(services, &row.openai_api_key),
        KeyKind::Opencode => open(services, &row.opencode_api_key),
    })
}

/// The key `agent` needs, or an error telling the user where to add it.
pub async fn for_agent(services: &Services, user_id: i64, agent: Agent) -> Result<Secret> {
    key(services, user_id, agent.key_kind()).await?.ok_or_else(|| {
        Error::invalid(
            "key",
            format!(
                "{} needs your {}: add it in Settings, then send the prompt again.",
                agent.label(),
                agent.key_kind().label()
            ),
        )
    })
}

/// Which keys the user has set, as hints.
pub async fn hints(services: &Services, user_id: i64) -> Result<KeyHints> {
    let hint =
        |kind| async move { key(services, user_id, kind).await.map(|k| k.map(|k| k.hint())) };
    Ok(KeyHints {
        anthropic: hint(KeyKind::Anthropic).await?,
        openai: hint(KeyKind::OpenAi).await?,
        opencode: hint(KeyKind::Opencode).await?,
    })
}

/// Stores `value` as the user's key of `kind`, sealed; an empty value removes it.
pub async fn set(services: &Services, user_id: i64, kind: KeyKind, value: &str) -> Result<()> {
    let value = value.trim();
    if value.len() > 4096 {
        return Err(Error::invalid("key", "that is too long to be a key"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("key", "a key has no spaces or line breaks; paste it again"));
    }
    let sealed = (!value.is_empty()).then(|| services.sealer.seal(value));
    let mut active: credential::ActiveModel = row(services, user_id).await?.into();
    match kind {
        KeyKind::Anthropic => {
            // One Anthropic secret at a time, in the column its kind belongs to.
            let token = is_subscription_token(value);
            active.anthropic_api_key = Set(sealed.clone().filter(|_| !token));
            active.anthropic_auth_token = Set(sealed.filter(|_| token));
        }
        KeyKind::OpenAi => active.openai_api_key = Set(sealed),
        KeyKind::Opencode => active.opencode_api_key = Set(sealed),
    }
    active.updated_at = Set(Utc::now());
    active.update(&services.db).await?;
    Ok(())
}

/// The most loop iterations the user allows a branch (1–25).
pub async fn loop_max(services: &Services, user_id: i64) -> Result<i32> {
    Ok(row(services, user_id).await?.loop_max_iterations)
}

/// Sets the most loop iterations (1–25).
pub async fn set_loop_max(services: &Services, user_id: i64, max: i32) -> Result<()> {
    if !(1..=25).contains(&max) {
        return Err(Error::invalid("loop_max_iterations", "choose between 1 and 25 iterations"));
    }
    let mut active: credential::ActiveModel = row(services, user_id).await?.into();
    active.loop_max_iterations = Set(max);
    active.updated_at = Set(Utc::now());
    active.update(&services.db).await?;
    Ok(())
}
