//! A creation admitted: the request checked against the settings and the caller's rights
//! ([`validate_create`]), then the application's pre-create hook asked, and each change it
//! makes checked against the same rights again. A hook may narrow an upload, or rename it
//! within the caller's grant; it never widens what the caller may do: a key outside the
//! grant's prefix or a content type the grant does not allow is refused, not honoured.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use crate::api::CreateUpload;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::hooks::{Caller, Changes, PreCreate, UploadEvent};
use crate::keys;
use crate::state::AppState;
use crate::validate::{check_content_type, check_metadata, validate_create};

/// What the route knows of the upload before it is created.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    /// The route, as hooks are told it.
    pub route: &'static str,
    /// `single` or `multipart`, where decided before creation.
    pub strategy: Option<&'static str>,
    /// The declared size, where the uploader declares one.
    pub size: Option<u64>,
}

/// An upload the coordinator and the application agree to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub key: String,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
    /// The application's limit on the upload's size, when its hook set one.
    pub max_size: Option<u64>,
}

impl Admitted {
    /// The `upload.created` event of this upload, known by `upload_id`.
    pub(crate) fn created_event(
        &self,
        state: &AppState,
        who: &Principal,
        asked: Asked,
        strategy: &'static str,
        upload_id: String,
    ) -> UploadEvent {
        let mut e = UploadEvent::new(
            upload_id,
            &state.config().bucket,
            &self.key,
            strategy,
            asked.route,
            who,
        );
        e.size = asked.size;
        e.content_type = Some(self.content_type.clone());
        e.metadata = self.metadata.clone();
        e
    }
}

/// Checks `req` for `who`, asks the pre-create hook, and applies its changes.
pub(crate) async fn admit(
    state: &AppState,
    who: &Principal,
    req: &CreateUpload,
    asked: Asked,
) -> Result<Admitted, ApiError> {
    admit_as(state, who, req, asked, None).await
}

/// [`admit`], proposing `key` (a route's own choice) instead of the one validation picks.
pub(crate) async fn admit_as(
    state: &AppState,
    who: &Principal,
    req: &CreateUpload,
    asked: Asked,
    key: Option<String>,
) -> Result<Admitted, ApiError> {
    let (picked, content_type) = validate_create(state, who, req)?;
    let key = key.unwrap_or(picked);
    let mut admitted = Admitted {
        key,
        content_type,
        metadata: req.metadata.clone().unwrap_or_default(),
        max_size: None,
    };
    if !state.hooks().asks_before_create() {
        return Ok(admitted);
    }
    let ask = PreCreate {
        route: asked.route,
        bucket: state.config().bucket.clone(),
        key: admitted.key.clone(),
        filename: req.filename.clone(),
        size: asked.size,
        content_type: admitted.content_type.clone(),
        metadata: admitted.metadata.clone(),
        strategy: asked.strategy,
        caller: Caller::from(who),
    };
    let changes = state.hooks().pre_create(&ask).await?;
    apply(who, asked.size, &mut admitted, changes)?;
    Ok(admitted)
}

/// A hook's answer that cannot be carried out as it stands: the application's mistake.
fn unusable(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "hook_invalid",
        format!("the application's pre-create hook answered an unusable {field}: {why}"),
    )
}

fn refused(message: String) -> ApiError {
    ApiError::forbidden("refused", message)
}

/// Applies the hook's `changes`, each within the caller's rights.
fn apply(
    who: &Principal,
    size: Option<u64>,
    admitted: &mut Admitted,
    changes: Changes,
) -> Result<(), ApiError> {
    let grant = match who {
        Principal::Grant(g) => Some(g),
        _ => None,
    };
    if let Some(key) = changes.key {
        keys::validate_key(&key, "key").map_err(|e| unusable("key", e.message))?;
        if let Some(g) = grant
            && !g.covers_key(&key)
        {
            return Err(refused(format!(
                "the application named the key {key:?}, outside this grant's prefix {:?}",
                g.prefix
            )));
        }
        admitted.key = key;
    }
    if let Some(ct) = changes.content_type {
        check_content_type(&ct, "content_type").map_err(|e| unusable("content_type", e.message))?;
        if let Some(g) = grant
            && !g.allows_type(&ct)
        {
            return Err(refused(format!(
                "the application set the content type {ct}, which this grant does not allow"
            )));
        }
        admitted.content_type = ct;
    }
    if let Some(meta) = changes.metadata {
        check_metadata(&meta).map_err(|e| unusable("metadata", e.message))?;
        admitted.metadata = meta;
    }
    if let Some(max) = changes.max_size {
        if let Some(size) = size
            && size > max
        {
            return Err(refused(format!(
                "{size} bytes is over the application's limit of {max} bytes"
            ))
            .with_field("size"));
        }
        admitted.max_size = Some(max);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GrantClaims;

    fn grant() -> Principal {
        Principal::Grant(GrantClaims {
            sub: "u1".into(),
            exp: u64::MAX,
            prefix: "users/u1".into(),
            max_size: None,
            content_types: vec!["image/*".into()],
            choose_key: false,
            nbf: None,
            no_clobber: false,
        })
    }

    fn asked() -> Admitted {
        Admitted {
            key: "users/u1/x/a.png".into(),
            content_type: "image/png".into(),
            metadata: BTreeMap::new(),
            max_size: None,
        }
    }

    #[test]
    fn changes_stay_within_the_grant() {
        let mut a = asked();
        let inside = Changes {
            key: Some("users/u1/avatars/a.png".into()),
            content_type: Some("image/webp".into()),
            metadata: Some([("owner".to_string(), "u1".to_string())].into()),
            max_size: Some(100),
            ..Changes::default()
        };
        apply(&grant(), Some(10), &mut a, inside).unwrap();
        assert_eq!(a.key, "users/u1/avatars/a.png");
        assert_eq!(a.content_type, "image/webp");
        assert_eq!(a.metadata["owner"], "u1");
        assert_eq!(a.max_size, Some(100));

        let outside = Changes {
            key: Some("users/u2/a.png".into()),
            ..Changes::default()
        };
        let e = apply(&grant(), None, &mut asked(), outside).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "refused"));
        let wider_type = Changes {
            content_type: Some("text/html".into()),
            ..Changes::default()
        };
        let e = apply(&grant(), None, &mut asked(), wider_type).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let too_big = Changes {
            max_size: Some(5),
            ..Changes::default()
        };
        let e = apply(&grant(), Some(6), &mut asked(), too_big).unwrap_err();
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::FORBIDDEN, Some("size"))
        );
        // An API key's uploads may go anywhere the application names.
        let mut a = asked();
        let anywhere = Changes {
            key: Some("elsewhere/a.png".into()),
            ..Changes::default()
        };
        apply(
            &Principal::ApiKey { id: "k".into() },
            None,
            &mut a,
            anywhere,
        )
        .unwrap();
        assert_eq!(a.key, "elsewhere/a.png");
    }

    #[test]
    fn unusable_answers_are_the_applications_fault() {
        for bad in [
            Changes {
                key: Some("../up".into()),
                ..Changes::default()
            },
            Changes {
                content_type: Some("nonsense".into()),
                ..Changes::default()
            },
            Changes {
                metadata: Some([("Bad Name".to_string(), "v".to_string())].into()),
                ..Changes::default()
            },
        ] {
            let e = apply(&grant(), None, &mut asked(), bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_GATEWAY, "hook_invalid")
            );
        }
    }
}
