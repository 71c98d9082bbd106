//! Which model answers: the one rule, `explicit → conversation → profile → preferences →
//! default` (the default is the registry's: the first usable model the user may pick), used by
//! conversation create, send, regenerate, the estimate and the OpenAI-compatible API alike.
//! What a named model resolves to, and whether the user may use it, is [`crate::registry`]'s.

use ragenie_gateway::{ModelSpec, ProviderKind};

use crate::error::{ConversationError, ConversationResult};

/// The model that answers from the documents alone, when no provider is configured.
pub const RETRIEVAL_ONLY_MODEL: &str = "ragenie-retrieval-only";
/// The longest model id a request may name.
pub const MAX_MODEL_CHARS: usize = 200;

/// The places a model may be named, most specific first. A blank name counts as not named
/// (a conversation stored with `""` means "the default at send time").
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelChoice<'a> {
    /// Named in this request (the user picked it).
    pub explicit: Option<&'a str>,
    /// The conversation's model.
    pub conversation: Option<&'a str>,
    /// The profile's default model.
    pub profile: Option<&'a str>,
    /// The user's default model (preferences).
    pub preferences: Option<&'a str>,
}

impl<'a> ModelChoice<'a> {
    /// The first model named, if any.
    pub fn named(&self) -> Option<&'a str> {
        [
            self.explicit,
            self.conversation,
            self.profile,
            self.preferences,
        ]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|m| !m.is_empty())
    }
}

/// A model named in a request: at most [`MAX_MODEL_CHARS`]; blank means "not named".
pub fn requested_model(model: Option<String>) -> ConversationResult<Option<String>> {
    // Counted before trimming: the contract's `maxLength` is of the string as sent.
    if model
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_MODEL_CHARS)
    {
        return Err(ConversationError::invalid(
            "model",
            format!("at most {MAX_MODEL_CHARS} characters"),
        ));
    }
    Ok(model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()))
}

pub(crate) fn retrieval_only_spec() -> ModelSpec {
    let mut spec = ModelSpec::unknown(RETRIEVAL_ONLY_MODEL, ProviderKind::OpenAiCompatible);
    spec.display_name = "Retrieval only (offline)".into();
    spec.context_window = 32_000;
    spec.max_output_tokens = 2_000;
    spec.default_max_tokens = Some(1_000);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice<'a>(names: [Option<&'a str>; 4]) -> ModelChoice<'a> {
        ModelChoice {
            explicit: names[0],
            conversation: names[1],
            profile: names[2],
            preferences: names[3],
        }
    }

    #[test]
    fn the_most_specific_named_model_wins_in_the_rules_order() {
        let all = [Some("e"), Some("c"), Some("p"), Some("u")];
        assert_eq!(choice(all).named(), Some("e"));
        assert_eq!(
            choice([None, Some("c"), Some("p"), Some("u")]).named(),
            Some("c")
        );
        assert_eq!(
            choice([None, None, Some("p"), Some("u")]).named(),
            Some("p")
        );
        assert_eq!(choice([None, None, None, Some("u")]).named(), Some("u"));
        assert_eq!(choice([None; 4]).named(), None);
    }

    #[test]
    fn a_blank_name_is_skipped_as_if_not_given() {
        // A conversation stored with "" means "the default at send time": the profile decides.
        assert_eq!(
            choice([Some(" "), Some(""), Some("p"), Some("u")]).named(),
            Some("p")
        );
    }

    #[test]
    fn a_requested_model_is_trimmed_blank_means_none_and_long_is_refused() {
        assert_eq!(
            requested_model(Some(" gpt ".into())).unwrap(),
            Some("gpt".into())
        );
        assert_eq!(requested_model(Some("  ".into())).unwrap(), None);
        assert!(requested_model(Some("m".repeat(201))).is_err());
        // Characters, not bytes; counted as sent, before trimming (the contract's maxLength).
        assert!(requested_model(Some("é".repeat(200))).is_ok());
        assert!(requested_model(Some(format!(" {}", "m".repeat(200)))).is_err());
    }
}
