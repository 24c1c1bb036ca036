//! Errors on their way to becoming HTTP responses: the one place a status is chosen.

use axum::http::header;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use ingot_core::actions::ActionError;
use ingot_core::settings::SettingError;
use ingot_core::storage::StorageError;
use ingot_region::model::witness;
use ingot_region::model::StoreError;
use ingot_region::RegionError;
use serde_json::json;

// ------------------------------------------------------------------------------ errors

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub RegionError);

impl From<RegionError> for ApiError {
    fn from(e: RegionError) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(RegionError::Store(e))
    }
}

impl From<ingot_wire::WireError> for ApiError {
    fn from(e: ingot_wire::WireError) -> Self {
        ApiError(e.into())
    }
}

pub(crate) fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

/// What the answer adds to the database's trouble when the request may have changed
/// something before it (a COMMIT went out).
pub const MAYBE_DONE: &str =
    "This request may have made its change before that: read it back before repeating it.";

/// 503 with `Retry-After`: trying again later may work.
fn unavailable(msg: String) -> Response {
    let mut r = text(StatusCode::SERVICE_UNAVAILABLE, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            RegionError::Fields(f) => (StatusCode::BAD_REQUEST, axum::Json(f)).into_response(),
            RegionError::BadRequest(m) => text(StatusCode::BAD_REQUEST, m),
            RegionError::Unauthorized(m) => {
                let mut r = text(StatusCode::UNAUTHORIZED, m);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("OAuth realm=\"OAuth\""),
                );
                r
            }
            RegionError::Forbidden(m) => text(StatusCode::FORBIDDEN, m),
            RegionError::NotFound(m) => text(StatusCode::NOT_FOUND, m),
            RegionError::Conflict(m) => text(StatusCode::CONFLICT, m),
            RegionError::TooLarge(m) => text(StatusCode::PAYLOAD_TOO_LARGE, m),
            RegionError::Unavailable(m) => unavailable(m),
            RegionError::Power(e) if e.bad_parameters => {
                text(StatusCode::BAD_REQUEST, e.to_string())
            }
            RegionError::Power(e) => unavailable(e.to_string()),
            RegionError::CloneFailed(report) => {
                let messages = report.failed.iter().map(|f| f.message()).collect();
                let body = crate::clone::report_json(&report, Some(messages));
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
            }
            RegionError::Action(e) => {
                let status = match e {
                    ActionError::NotPermitted(_) => StatusCode::FORBIDDEN,
                    ActionError::WrongStatus(_) => StatusCode::CONFLICT,
                    ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
                };
                text(status, e.to_string())
            }
            RegionError::Storage(StorageError::Field(f, m)) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({ f: [m] }))).into_response()
            }
            RegionError::Storage(StorageError::NotFound(m)) => text(StatusCode::NOT_FOUND, m),
            RegionError::Storage(StorageError::Invalid(m)) => text(StatusCode::BAD_REQUEST, m),
            RegionError::Setting(e @ SettingError::Unknown { .. }) => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"name": [e.to_string()]})),
            )
                .into_response(),
            RegionError::Setting(SettingError::Invalid(m)) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({"value": [m]}))).into_response()
            }
            RegionError::Store(StoreError::NotFound) => {
                text(StatusCode::NOT_FOUND, "Not found.".into())
            }
            RegionError::Store(StoreError::Conflict) => text(
                StatusCode::CONFLICT,
                "The object was changed concurrently; try again.".into(),
            ),
            RegionError::Store(StoreError::Duplicate(m)) => text(StatusCode::CONFLICT, m),
            // The request may have changed something before the database went away (its
            // COMMIT went out): no `Retry-After`, which clients take as "not done, repeat it"
            // (Juju's gomaasapi repeats any request so answered, an allocation too).
            RegionError::Store(e) if e.unavailable().is_some() && witness::may_have_written() => {
                tracing::warn!("database unavailable after a change may have been made: {e}");
                let why = e.unavailable().unwrap_or_default();
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{why} {MAYBE_DONE}"),
                )
            }
            RegionError::Store(e) if e.unavailable().is_some() => {
                tracing::warn!("database unavailable: {e}");
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.unavailable().unwrap_or_default().to_string(),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                r
            }
            RegionError::Store(e) => {
                tracing::error!("internal error: {e}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Internal error: {e}"),
                )
            }
        }
    }
}
