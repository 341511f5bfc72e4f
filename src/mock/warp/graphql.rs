//! `POST /graphql/v2?op=GetRequestLimitInfo` / `?op=GetFeatureModelChoices` (fact sheet §1.6,
//! §1.7), and `POST /graphql` (the unverified `RefundCredits` mutation, answered with a GraphQL
//! error as the sheet suggests).

use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::json_response;
use super::scenario::Scenario;
use crate::mock::script::Reply;

/// The models `GetFeatureModelChoices` lists for `agentMode` (callable at `/ai/multi-agent`).
pub(super) const MODELS: [(&str, &str); 5] = [
    ("auto-open", "Warp Auto Open"),
    ("claude-4-5-sonnet", "Claude 4.5 Sonnet"),
    ("claude-4-6-opus-high", "Claude 4.6 Opus (High)"),
    ("gpt-5-1-medium", "GPT 5.1 Medium"),
    ("gemini-3-pro", "Gemini 3 Pro"),
];

pub(super) fn handle(head: &Parts, body: &[u8], scenario: Scenario) -> Response<Reply> {
    let op = head
        .uri
        .query()
        .and_then(|q| super::token::form(q.as_bytes()).into_iter().find(|(k, _)| k == "op").map(|(_, v)| v));
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return errors(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")),
    };
    if !request.get("query").is_some_and(Value::is_string) {
        return errors(StatusCode::BAD_REQUEST, "the request has no `query`");
    }
    if let (Some(op), Some(name)) = (&op, request.get("operationName").and_then(Value::as_str))
        && name != op
    {
        return errors(StatusCode::BAD_REQUEST, &format!("operationName `{name}` does not match op `{op}`"));
    }
    match scenario {
        Scenario::GraphqlErrors => return errors(StatusCode::OK, "Internal server error (mock)"),
        Scenario::GraphqlUserError => {
            let body = json!({"data": {"user": {"__typename": "UserFacingError",
                "error": {"__typename": "UserFacingError", "message": "You must be logged in to do that. (mock)"}}}});
            return json_response(StatusCode::OK, &body);
        }
        _ => {}
    }
    match op.as_deref() {
        Some("GetRequestLimitInfo") => {
            json_response(StatusCode::OK, &limits(scenario == Scenario::QuotaExhausted))
        }
        Some("GetFeatureModelChoices") => json_response(StatusCode::OK, &model_choices()),
        None if request["query"].as_str().is_some_and(|q| q.contains("refundCredits")) => {
            errors(StatusCode::OK, "Cannot query field \"refundCredits\" on type \"RootMutation\".")
        }
        other => errors(StatusCode::OK, &format!("unknown operation `{}`", other.unwrap_or(""))),
    }
}

/// A GraphQL error body: `{"data": null, "errors": [{"message": …}]}`.
fn errors(status: StatusCode, message: &str) -> Response<Reply> {
    json_response(status, &json!({"data": null, "errors": [{"message": message}]}))
}

/// The §1.6 test vector (limit 100, used 25, one bonus of 7: remaining 82), or an exhausted quota.
fn limits(exhausted: bool) -> Value {
    let (used, bonus) = if exhausted { (100, 0) } else { (25, 7) };
    json!({"data": {"user": {"__typename": "UserOutput", "user": {
        "workspaces": [{"uid": "ws-1", "bonusGrantsInfo": {"grants": []}}],
        "requestLimitInfo": {
            "isUnlimited": false,
            "nextRefreshTime": "2026-03-15T00:00:00.462988Z",
            "requestLimit": 100,
            "requestsUsedSinceLastRefresh": used,
            "requestLimitRefreshDuration": "MONTHLY"
        },
        "bonusGrants": [{"requestCreditsGranted": 7, "requestCreditsRemaining": bonus,
            "expiration": "2026-03-20T00:00:00Z", "reason": "bonus", "userFacingMessage": "bonus"}]
    }}}, "errors": []})
}

fn model_choices() -> Value {
    let choices: Vec<Value> =
        MODELS.iter().map(|(id, name)| json!({"id": id, "displayName": name})).collect();
    let role = |id: &str, name: &str| json!({"defaultId": id, "choices": [{"id": id, "displayName": name}]});
    json!({"data": {"user": {"__typename": "UserOutput", "user": {"workspaces": [{"featureModelChoice": {
        "agentMode": {"defaultId": "auto-open", "choices": choices},
        "coding": role("auto", "Auto"),
        "cliAgent": role("cli-agent-auto", "CLI Agent Auto"),
        "computerUseAgent": role("computer-use-agent-auto", "Computer Use Agent Auto"),
    }}]}}}})
}
