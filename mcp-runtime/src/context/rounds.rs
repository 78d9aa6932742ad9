//! Input-required rounds (SEP-2322): how `ctx.elicit`, `ctx.sample` and `ctx.list_roots` work for a
//! client of protocol 2026-07-28, which has no requests from the server to the client.
//!
//! Such a client asks, the server answers "input required" with the requests it needs answered and a
//! `requestState`, and the client asks again with its `inputResponses` and the state echoed. The
//! author's function is the same in both eras, so the framework runs it again on every round: each
//! input request the function makes has a key (its own name, `ctx.input("name")`, or one numbered in
//! call order); one that has an answer returns it at once, one that has none is recorded, and the
//! round ends as soon as the function waits on an unanswered request (all requests it made
//! concurrently, with `join!`, go out together). The answers the function used are sealed into the
//! `requestState` (HMAC-SHA256, rmcp's `RequestStateCodec`), bound to the definition and its
//! arguments and valid for [`STATE_TTL`], so a later round has every earlier answer without the server
//! keeping anything: any replica can serve the next round.
//!
//! The state is authenticated, not encrypted: the client can read the answers it gave. Its keys come
//! from `MCP_STATE_KEY` (hex, at least 32 bytes; a comma-separated list to rotate keys: the first
//! signs, all verify), the same on every replica; without it each process makes a random key, and a
//! round that reaches another process (or one restarted) is refused as a foreign state.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::Waker,
    time::Duration,
};

use futures::task::AtomicWaker;
use rmcp::{
    ErrorData as McpError,
    model::{
        InputRequest, InputRequests, InputRequiredResult, InputResponses, RequestStateCodec,
        SealOptions,
    },
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::platform::SettingsError;

/// How long a `requestState` stays valid: the time a user has to answer a round's forms.
pub(crate) const STATE_TTL: Duration = Duration::from_secs(60 * 60);

/// The variable holding the keys that seal `requestState`.
pub(crate) const STATE_KEY_VARIABLE: &str = "MCP_STATE_KEY";

/// The keys that seal and open every call's `requestState`.
pub(crate) struct StateKeys {
    codec: RequestStateCodec,
    /// Whether the key was made at random by this process (no `MCP_STATE_KEY`).
    pub random: bool,
}

impl StateKeys {
    /// The keys in `MCP_STATE_KEY`, or a random one when it is unset or empty.
    pub(crate) fn from_env() -> Result<StateKeys, SettingsError> {
        match std::env::var(STATE_KEY_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => StateKeys::parse(&value),
            _ => Ok(StateKeys::random()),
        }
    }

    /// A key of this process's own, from the operating system's random source (through uuid's).
    pub(crate) fn random() -> StateKeys {
        let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|id| *id.as_bytes())
            .collect();
        StateKeys {
            codec: ring(vec![key]).expect("32 random bytes make a keyring"),
            random: true,
        }
    }

    /// Comma-separated hex keys: the first signs, all verify. The error never repeats a key.
    fn parse(value: &str) -> Result<StateKeys, SettingsError> {
        let invalid = |problem: String| {
            SettingsError::new(
                STATE_KEY_VARIABLE,
                format!(
                    "{STATE_KEY_VARIABLE} is not valid: {problem}; give one or more keys of at least {} bytes as hex, separated by commas (e.g. from `openssl rand -hex 32`)",
                    RequestStateCodec::MIN_KEY_LENGTH
                ),
            )
        };
        let mut keys = Vec::new();
        for (index, part) in value.split(',').enumerate() {
            let part = part.trim();
            let key = hex::decode(part)
                .map_err(|_| invalid(format!("key {} is not hexadecimal", index + 1)))?;
            if key.len() < RequestStateCodec::MIN_KEY_LENGTH {
                return Err(invalid(format!(
                    "key {} has {} bytes",
                    index + 1,
                    key.len()
                )));
            }
            keys.push(key);
        }
        let codec = ring(keys).map_err(|error| invalid(error.to_string()))?;
        Ok(StateKeys {
            codec,
            random: false,
        })
    }
}

/// A keyring whose first key signs. Each key's id is derived from the key itself, so that every
/// replica given the same keys names them alike and a rotation needs no ids in the configuration.
fn ring(keys: Vec<Vec<u8>>) -> Result<RequestStateCodec, rmcp::model::RequestStateError> {
    let id = |key: &[u8]| {
        let digest = Sha256::digest(key);
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let active = id(&keys[0]);
    RequestStateCodec::new_with_keyring(active, keys.into_iter().map(|key| (id(&key), key)))
}

/// What a `requestState` carries: the answers the function used in earlier rounds.
#[derive(Serialize, Deserialize, Default)]
struct Sealed {
    answers: BTreeMap<String, Value>,
}

/// One call's rounds: the answers it has, the requests it made that have none.
pub(crate) struct Rounds {
    answers: BTreeMap<String, Value>,
    used: Mutex<BTreeMap<String, Value>>,
    asked: Mutex<InputRequests>,
    numbered: AtomicUsize,
    /// The call path's task: a request made from another task (a spawned one) wakes it.
    waker: AtomicWaker,
}

impl Rounds {
    /// The rounds of a call bound to `binding` (the definition and its arguments): the answers in
    /// its `requestState`, which must open with `keys`, and in its `inputResponses`. A state that does
    /// not open is refused with -32602, whatever the reason (forged, altered, expired, sealed for
    /// another call or by another key): the reason goes to the log only.
    pub(crate) fn open(
        keys: &StateKeys,
        binding: &[u8],
        state: Option<&str>,
        responses: Option<InputResponses>,
    ) -> Result<Rounds, McpError> {
        let sealed = match state {
            None => Sealed::default(),
            Some(state) => keys
                .codec
                .open_json_with::<Sealed>(state, binding)
                .map_err(|error| {
                    tracing::warn!(
                        event_type = "mcp.request_state.rejected",
                        error = %error,
                        error_type = "RequestStateError",
                        "A requestState was refused"
                    );
                    McpError::invalid_params(
                        "requestState failed verification: it was altered, has expired, or belongs to another request or server; send the request again without requestState and inputResponses",
                        None,
                    )
                })?,
        };
        // Answers the function already used are the sealed ones; a client's new responses add to them.
        let mut answers = responses.unwrap_or_default();
        answers.extend(sealed.answers);
        Ok(Rounds {
            answers,
            used: Mutex::default(),
            asked: Mutex::default(),
            numbered: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
        })
    }

    /// The key of an input request the author did not name: its kind and its place among the
    /// unnamed ones, which is the same on every round as long as the function asks in the same order.
    pub(crate) fn numbered_key(&self, kind: &str) -> String {
        format!(
            "{kind}-{}",
            self.numbered.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// The client's answer to the request `key`, if it has given one that reads as an `R`. The
    /// request is recorded as asked otherwise, and this waits for ever: the round ends.
    pub(crate) async fn answer<R: DeserializeOwned>(
        &self,
        key: String,
        request: InputRequest,
    ) -> R {
        if let Some(answer) = self.answers.get(&key)
            && let Ok(parsed) = serde_json::from_value::<R>(answer.clone())
        {
            self.used.lock().unwrap().insert(key, answer.clone());
            return parsed;
        }
        // An answer of the wrong shape is asked for again, as a missing one is (SEP-2322).
        self.asked.lock().unwrap().insert(key, request);
        self.waker.wake();
        std::future::pending().await
    }

    /// Whether the function has made a request this round that has no answer.
    pub(crate) fn has_asked(&self) -> bool {
        !self.asked.lock().unwrap().is_empty()
    }

    /// Registers the call path's task, to be woken when a request is made.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// The keys of the requests asked this round, for the log.
    pub(crate) fn asked_keys(&self) -> String {
        let asked = self.asked.lock().unwrap();
        asked
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The result that ends this round: the requests asked, and the answers used so far sealed.
    pub(crate) fn input_required(&self, keys: &StateKeys, binding: &[u8]) -> InputRequiredResult {
        let requests = std::mem::take(&mut *self.asked.lock().unwrap());
        let sealed = Sealed {
            answers: std::mem::take(&mut *self.used.lock().unwrap()),
        };
        let state = keys
            .codec
            .seal_json_with(
                &sealed,
                &SealOptions::new().associated_data(binding).ttl(STATE_TTL),
            )
            .expect("answers that were JSON serialize");
        InputRequiredResult::new(Some(requests), Some(state))
    }
}

/// What a `requestState` is bound to: the method, the definition, and its arguments (a map with
/// sorted keys, so the same arguments give the same bytes).
pub(crate) fn binding(method: &str, label: &str, args: &crate::JsonObject) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(label.as_bytes());
    bytes.push(0);
    serde_json::to_writer(&mut bytes, args).expect("JSON arguments serialize");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const KEY_B: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    fn sealed_by(keys: &StateKeys, binding: &[u8]) -> String {
        let rounds = Rounds::open(
            keys,
            binding,
            None,
            Some([("k".to_string(), Value::from(1))].into()),
        )
        .unwrap();
        futures::executor::block_on(async {
            let _: i64 = rounds
                .answer("k".into(), InputRequest::ListRoots(Default::default()))
                .await;
        });
        rounds.input_required(keys, binding).request_state.unwrap()
    }

    #[test]
    fn a_state_opens_with_the_keys_and_binding_it_was_sealed_with() {
        let keys = StateKeys::parse(KEY_A).unwrap();
        let state = sealed_by(&keys, b"tools/call\0t\0{}");
        let rounds = Rounds::open(&keys, b"tools/call\0t\0{}", Some(&state), None).unwrap();
        assert_eq!(rounds.answers["k"], 1);
    }

    #[test]
    fn a_state_for_other_arguments_or_altered_or_from_another_key_is_refused() {
        let keys = StateKeys::parse(KEY_A).unwrap();
        let state = sealed_by(&keys, b"tools/call\0t\0{}");
        let refused = |keys: &StateKeys, binding: &[u8], state: &str| {
            let error = Rounds::open(keys, binding, Some(state), None)
                .err()
                .expect("refused");
            assert_eq!(error.code.0, -32602);
            assert!(error.message.contains("requestState failed verification"));
        };
        refused(&keys, b"tools/call\0t\0{\"a\":1}", &state);
        let mut altered = state.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        refused(
            &keys,
            b"tools/call\0t\0{}",
            std::str::from_utf8(&altered).unwrap(),
        );
        refused(
            &StateKeys::parse(KEY_B).unwrap(),
            b"tools/call\0t\0{}",
            &state,
        );
        refused(&StateKeys::random(), b"tools/call\0t\0{}", &state);
        refused(&keys, b"tools/call\0t\0{}", "not a state");
    }

    #[test]
    fn rotated_keys_open_states_sealed_by_the_old_key_and_seal_with_the_first() {
        let old = StateKeys::parse(KEY_A).unwrap();
        let state = sealed_by(&old, b"b");
        let rotated = StateKeys::parse(&format!("{KEY_B}, {KEY_A}")).unwrap();
        assert!(Rounds::open(&rotated, b"b", Some(&state), None).is_ok());
        let new_state = sealed_by(&rotated, b"b");
        assert!(
            Rounds::open(
                &StateKeys::parse(KEY_B).unwrap(),
                b"b",
                Some(&new_state),
                None
            )
            .is_ok()
        );
        assert!(Rounds::open(&old, b"b", Some(&new_state), None).is_err());
    }

    #[test]
    fn malformed_keys_are_a_configuration_error_that_repeats_no_key() {
        for (value, says) in [
            ("xyz", "key 1 is not hexadecimal"),
            ("0011", "key 1 has 2 bytes"),
            (&format!("{KEY_A},abc"), "key 2 is not hexadecimal"),
        ] {
            let error = StateKeys::parse(value).err().expect("refused");
            let text = error.to_string();
            assert!(text.contains(says), "{text}");
            assert!(text.contains("MCP_STATE_KEY"), "{text}");
            assert!(!text.contains(KEY_A), "{text}");
        }
    }
}
