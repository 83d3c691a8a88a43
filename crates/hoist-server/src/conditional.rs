//! No-clobber uploads rest on the store refusing `If-None-Match: *` on an existing key. A store
//! that ignores the header (Garage 2.5 does) would replace the object silently, so the
//! coordinator asks the store once (hoist-s3's probe) before it takes the first no-clobber
//! upload, or at start when its `no_clobber` setting makes every upload one, and refuses them
//! all with `422 no_clobber_unsupported` when the store does not honour it.

use axum::http::StatusCode;
use hoist_s3::ConditionalWrites;

use crate::error::ApiError;
use crate::state::AppState;

/// Refuses a no-clobber upload (`no_clobber`) when the store would ignore its condition.
pub(crate) async fn require(state: &AppState, no_clobber: bool) -> Result<(), ApiError> {
    if !no_clobber {
        return Ok(());
    }
    match state.conditional_writes().await {
        Ok(verdict) if verdict.honoured() => Ok(()),
        Ok(verdict) => Err(unsupported(state, &verdict)),
        Err(e) => Err(e.into()),
    }
}

fn unsupported(state: &AppState, verdict: &ConditionalWrites) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_clobber_unsupported",
        format!(
            "this upload may not replace an object (no-clobber), and the store at {} cannot \
             promise that: {verdict}. Nothing was uploaded; upload without no-clobber, or use \
             a store that honours conditional writes",
            state.store().endpoint().host()
        ),
    )
}
