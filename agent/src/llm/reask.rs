//! Re-asking once: when a reply cannot be parsed or applied, send the reason back to the
//! model and keep both calls.

use std::fmt::Display;

use super::{ChatBackend, ChatMessage, ChatRequest, Completion, LlmError};

/// One model call as the store keeps it: what was asked and what came back.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    pub request: ChatRequest,
    pub completion: Completion,
}

/// The calls made for one proposal (one, or two after a re-ask) and the parse result of the
/// last reply. `parsed` is an `Err` when the re-asked reply failed too.
#[derive(Debug)]
pub struct Proposal<T, E> {
    pub calls: Vec<CallRecord>,
    pub parsed: Result<T, E>,
}

/// A model call failed (after its retries); `calls` holds the calls that had succeeded.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ProposeFailure {
    pub calls: Vec<CallRecord>,
    #[source]
    pub error: LlmError,
}

/// The follow-up request after a reply that could not be used: the original messages, the
/// model's reply, and a user message giving the reason (`error`'s Display is written for the
/// model).
pub fn reask_request(original: &ChatRequest, reply: &str, error: &dyn Display) -> ChatRequest {
    let mut request = original.clone();
    request.messages.push(ChatMessage::assistant(reply));
    request.messages.push(ChatMessage::user(format!(
        "Your reply could not be used: {error}\n\nPlease answer again, following the reply format given in the first message exactly."
    )));
    request
}

/// Asks `backend`, parses the reply with `parse`, and on a parse error re-asks once with the
/// reason. Both calls are returned so the caller stores both.
pub async fn propose_with_reask<T, E: Display>(
    backend: &dyn ChatBackend,
    request: ChatRequest,
    mut parse: impl FnMut(&str) -> Result<T, E>,
) -> Result<Proposal<T, E>, ProposeFailure> {
    let mut calls = Vec::with_capacity(2);
    let first = match backend.complete(&request).await {
        Ok(completion) => completion,
        Err(error) => return Err(ProposeFailure { calls, error }),
    };
    let parsed = parse(&first.text);
    let error = match parsed {
        Ok(value) => {
            calls.push(CallRecord {
                request,
                completion: first,
            });
            return Ok(Proposal {
                calls,
                parsed: Ok(value),
            });
        }
        Err(error) => error,
    };
    tracing::debug!(model = %request.model, error = %error, "reply unusable; re-asking once");
    let follow_up = reask_request(&request, &first.text, &error);
    calls.push(CallRecord {
        request,
        completion: first,
    });
    let second = match backend.complete(&follow_up).await {
        Ok(completion) => completion,
        Err(error) => return Err(ProposeFailure { calls, error }),
    };
    let parsed = parse(&second.text);
    calls.push(CallRecord {
        request: follow_up,
        completion: second,
    });
    Ok(Proposal { calls, parsed })
}
