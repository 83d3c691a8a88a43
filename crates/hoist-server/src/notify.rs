//! The events of an upload's life, built from its token and the store's own description of
//! the object, and handed to the hooks.

use crate::auth::Principal;
use crate::hooks::{EventType, UploadEvent};
use crate::state::AppState;
use crate::token::UploadToken;

/// The `upl_…` id of the upload `token` describes; `sealed` is the token as the uploader
/// holds it, which is what tells single PUTs apart (their key may be chosen and reused).
pub(crate) fn upload_id(state: &AppState, token: &UploadToken, sealed: &str) -> String {
    if token.upload_id.is_empty() {
        state.hooks().upload_id(&["single", sealed])
    } else {
        multipart_id(state, &token.key, &token.upload_id)
    }
}

/// The `upl_…` id of the store's multipart upload `upload_id` of `key`.
pub(crate) fn multipart_id(state: &AppState, key: &str, upload_id: &str) -> String {
    state
        .hooks()
        .upload_id(&["multipart", &state.config().bucket, key, upload_id])
}

/// The `upl_…` id of an upload known by its key alone (issued fresh for it).
pub(crate) fn key_id(state: &AppState, key: &str) -> String {
    state
        .hooks()
        .upload_id(&["key", &state.config().bucket, key])
}

fn event(
    state: &AppState,
    who: &Principal,
    token: &UploadToken,
    sealed: &str,
    route: &'static str,
) -> UploadEvent {
    let strategy = if token.upload_id.is_empty() {
        "single"
    } else {
        "multipart"
    };
    let mut e = UploadEvent::new(
        upload_id(state, token, sealed),
        &token.bucket,
        &token.key,
        strategy,
        route,
        who,
    );
    if !token.upload_id.is_empty() {
        e.s3_upload_id = Some(token.upload_id.clone());
    }
    if !token.content_type.is_empty() {
        e.content_type = Some(token.content_type.clone());
    }
    e
}

/// Delivers `upload.completed` for the upload `token` describes, with the object as the store
/// describes it, before returning: `None` when no hook is configured, else whether it was
/// delivered (`false`: pending, sent again on the next Complete).
pub(crate) async fn completed(
    state: &AppState,
    who: &Principal,
    token: &UploadToken,
    sealed: &str,
    route: &'static str,
) -> Option<bool> {
    if !state.hooks().sends_events() {
        return None;
    }
    let mut e = event(state, who, token, sealed, route);
    match state.store().head_object(&token.key).await {
        Ok(Some(head)) => e = e.with_object(&head),
        Ok(None) => {
            tracing::warn!(key = %token.key, "completed object not found for its event");
            return Some(false);
        }
        Err(err) => {
            tracing::warn!(%err, key = %token.key, "could not read the completed object for its event");
            return Some(false);
        }
    }
    state.hooks().deliver(EventType::Completed, &e).await
}

/// Delivers `upload.aborted` before returning (sent again on a repeated abort).
pub(crate) async fn aborted(
    state: &AppState,
    who: &Principal,
    token: &UploadToken,
    sealed: &str,
    route: &'static str,
) {
    if !state.hooks().sends_events() {
        return;
    }
    let mut e = event(state, who, token, sealed, route);
    // An Uppy upload's token records no plan, and its size field is a limit, not a size.
    e.size = (token.part_size > 0).then_some(token.size);
    state.hooks().deliver(EventType::Aborted, &e).await;
}
