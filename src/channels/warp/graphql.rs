//! Per-account limits (`GetRequestLimitInfo`, §1.6) and model choices (`GetFeatureModelChoices`,
//! §1.7). The remaining requests go to the pool (an account with none left is skipped until its
//! reset); the model choices and the reset time stay with the channel.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::Full;
use serde_json::{Value, json};

use super::Settings;
use super::auth::{self, Session};
use crate::channels::classify;
use crate::ir::{ErrorKind, UpstreamError};
use crate::pool::AccountInfo;

/// What the last reading said about an account.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct AccountFacts {
    /// Model ids the account may call (`agentMode` choices, default first); `None`: not read.
    pub(crate) models: Option<Vec<String>>,
    /// When the request quota resets (Unix ms).
    pub(crate) reset_at: Option<i64>,
    /// Requests left (`None`: unlimited or not read).
    pub(crate) remaining: Option<i64>,
    /// The account's role models (`cliAgent` / `computerUseAgent` defaults, e.g. the team
    /// variants), sent in `model_config`.
    pub(crate) cli_agent: Option<String>,
    pub(crate) computer_use_agent: Option<String>,
}

const LIMITS_QUERY: &str = "query GetRequestLimitInfo($requestContext: RequestContext!) { user(requestContext: $requestContext) { __typename ... on UserOutput { user { requestLimitInfo { isUnlimited nextRefreshTime requestLimit requestsUsedSinceLastRefresh requestLimitRefreshDuration } bonusGrants { requestCreditsGranted requestCreditsRemaining expiration reason } workspaces { uid bonusGrantsInfo { grants { requestCreditsGranted requestCreditsRemaining expiration reason } } } } } ... on UserFacingError { error { __typename message } } } }";
const MODELS_QUERY: &str = "query GetFeatureModelChoices($requestContext: RequestContext!) { user(requestContext: $requestContext) { __typename ... on UserOutput { user { workspaces { featureModelChoice { agentMode { defaultId choices { id displayName } } cliAgent { defaultId } computerUseAgent { defaultId } } } } } ... on UserFacingError { error { message } } } }";

/// Reads both queries and records them.
pub(crate) async fn sync(
    settings: &Settings,
    account: &AccountInfo,
    session: &Session,
) -> Result<(), UpstreamError> {
    let limits = query(settings, account, session, "GetRequestLimitInfo", LIMITS_QUERY).await?;
    let (remaining, reset_at) = parse_limits(&limits)?;
    let choices = match query(settings, account, session, "GetFeatureModelChoices", MODELS_QUERY).await {
        Ok(answer) => Some(answer),
        Err(e) => {
            tracing::debug!(account = %account.name, error = %e, "warp: model choices not read");
            None
        }
    };
    let models = choices.as_ref().and_then(parse_models);
    settings.pool.set_quota(account.id, remaining, reset_at);
    let mut accounts = settings.accounts.lock().unwrap_or_else(|e| e.into_inner());
    let facts = accounts.entry(account.id).or_default();
    facts.remaining = remaining;
    facts.reset_at = reset_at;
    if models.is_some() {
        facts.models = models;
    }
    if let Some(answer) = &choices {
        facts.cli_agent = role_default(answer, "cliAgent");
        facts.computer_use_agent = role_default(answer, "computerUseAgent");
    }
    Ok(())
}

async fn query(
    settings: &Settings,
    account: &AccountInfo,
    session: &Session,
    operation: &str,
    text: &str,
) -> Result<Value, UpstreamError> {
    let body = json!({
        "query": text,
        "operationName": operation,
        "variables": {"requestContext": {
            "clientContext": {"version": auth::CLIENT_VERSION},
            "osContext": {"category": auth::OS, "linuxKernelVersion": null, "name": auth::OS, "version": ""}}},
    });
    let url = format!("{}/graphql/v2?op={operation}", settings.base_url(account));
    let request = auth::client_headers(http::Request::post(url))
        .header(AUTHORIZATION, auth::bearer(&session.id_token)?)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "*/*")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(classify::bad_request_line)?;
    let response = settings.upstream.send(request).await?;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        return Err(classify::from_response(parts.status, &parts.headers, body, |_| None, |_| None).await);
    }
    let answer = auth::read_json(body).await?;
    if let Some(first) = answer.get("errors").and_then(Value::as_array).and_then(|e| e.first()) {
        let message = first.get("message").and_then(Value::as_str).unwrap_or("GraphQL error");
        return Err(
            UpstreamError::new(ErrorKind::Server).with_message(format!("warp {operation}: {message}"))
        );
    }
    let user = &answer["data"]["user"];
    if user["__typename"] == "UserFacingError" {
        let message = user["error"]["message"].as_str().unwrap_or("user-facing error");
        return Err(
            UpstreamError::new(ErrorKind::Unauthorized).with_message(format!("warp {operation}: {message}"))
        );
    }
    Ok(answer)
}

/// `(remaining, reset_at)`: `requestLimit − used + Σ bonus remaining`, at least 0; `None` when
/// unlimited.
pub(crate) fn parse_limits(answer: &Value) -> Result<(Option<i64>, Option<i64>), UpstreamError> {
    let user = &answer["data"]["user"]["user"];
    let info = &user["requestLimitInfo"];
    if !info.is_object() {
        return Err(
            UpstreamError::new(ErrorKind::Protocol).with_message("warp limits have no requestLimitInfo")
        );
    }
    let reset_at = info["nextRefreshTime"].as_str().and_then(crate::time::parse_rfc3339);
    if info["isUnlimited"].as_bool() == Some(true) {
        return Ok((None, reset_at));
    }
    let number = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(0);
    let bonus = |grants: &Value| -> i64 {
        grants.as_array().map_or(0, |g| g.iter().map(|g| number(&g["requestCreditsRemaining"]).max(0)).sum())
    };
    let mut extra = bonus(&user["bonusGrants"]);
    if extra == 0
        && let Some(workspaces) = user["workspaces"].as_array()
    {
        extra = workspaces.iter().map(|w| bonus(&w["bonusGrantsInfo"]["grants"])).sum();
    }
    let remaining =
        (number(&info["requestLimit"]) - number(&info["requestsUsedSinceLastRefresh"]) + extra).max(0);
    Ok((Some(remaining), reset_at))
}

/// The `agentMode` model ids of every workspace, default first, deduplicated (lower case).
pub(crate) fn parse_models(answer: &Value) -> Option<Vec<String>> {
    let workspaces = answer["data"]["user"]["user"]["workspaces"].as_array()?;
    let mut ids: Vec<String> = Vec::new();
    let mut push = |id: &str| {
        let id = id.to_lowercase();
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    };
    for w in workspaces {
        let agent = &w["featureModelChoice"]["agentMode"];
        if let Some(default) = agent["defaultId"].as_str() {
            push(default);
        }
        for choice in agent["choices"].as_array().into_iter().flatten() {
            if let Some(id) = choice["id"].as_str() {
                push(id);
            }
        }
    }
    (!ids.is_empty()).then_some(ids)
}

/// The first workspace's default of a role (`cliAgent`, `computerUseAgent`).
pub(crate) fn role_default(answer: &Value, role: &str) -> Option<String> {
    answer["data"]["user"]["user"]["workspaces"]
        .as_array()?
        .iter()
        .find_map(|w| w["featureModelChoice"][role]["defaultId"].as_str().filter(|s| !s.is_empty()))
        .map(str::to_owned)
}
