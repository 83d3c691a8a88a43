//! Who may do what: API keys, grants, anonymous callers, and tokens that are tampered with,
//! expired or taken by someone else.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn tokens_tampered_expired_or_foreign() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let up = create(&srv.base, json!({"size": PART + 1})).await;
    let id = up["id"].as_str().unwrap().to_string();

    // Flip one character in the middle of the token.
    let mut chars: Vec<char> = id.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (status, v) = get(
        &format!("{}/v1/uploads/{tampered}", srv.base),
        Some(API_KEY),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_token")),
        "{v}"
    );
    let (status, v) = get(
        &format!("{}/v1/uploads/not-a-token", srv.base),
        Some(API_KEY),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_token")),
        "{v}"
    );

    // Another API key holder may not touch it.
    let (status, v) = post(
        &format!("{}/v1/uploads/{id}/parts", srv.base),
        Some(OTHER_API_KEY),
        json!({"numbers": [1]}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("{}/v1/uploads/{id}", srv.base),
        Some(OTHER_API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 403);
    srv.stop().await;

    // Tokens that live one second.
    let short = start_server(config(&store.handle).with_upload_ttl(Duration::from_secs(1))).await;
    let up = create(&short.base, json!({"size": 10})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = get(
        &format!("{}/v1/uploads/{}", short.base, up["id"].as_str().unwrap()),
        Some(API_KEY),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("token_expired")),
        "{v}"
    );
    short.stop().await;
}

#[tokio::test]
async fn grants_are_confined_to_their_prefix() {
    let store = start_store().await;
    let srv = start_server(config(&store.handle)).await;
    let uploads = format!("{}/v1/uploads", srv.base);
    let g1 = mint(
        "users/1",
        600,
        json!({"max_size": 20 * PART, "content_types": ["image/*"]}),
    );
    let g2 = mint("users/2", 600, json!({}));

    let (status, up) = post(
        &uploads,
        Some(&g1),
        json!({"size": 2 * PART, "filename": "cat.png", "content_type": "image/png"}),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    let key = up["key"].as_str().unwrap();
    assert!(
        key.starts_with("users/1/") && key.ends_with("/cat.png"),
        "{key}"
    );
    let id = up["id"].as_str().unwrap();

    // The holder of a grant for another prefix cannot use the upload.
    let (status, v) = post(
        &format!("{uploads}/{id}/parts"),
        Some(&g2),
        json!({"numbers": [1]}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    // Nor can a server API key (a different owner).
    let (status, _) = get(&format!("{uploads}/{id}"), Some(API_KEY)).await;
    assert_eq!(status, 403);
    // The same grant can.
    let (status, _) = get(&format!("{uploads}/{id}"), Some(&g1)).await;
    assert_eq!(status, 200);

    // Limits of the grant.
    let (status, v) = post(
        &uploads,
        Some(&g1),
        json!({"size": 20 * PART + 1, "content_type": "image/png"}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (403, Some("size")), "{v}");
    let (status, v) = post(
        &uploads,
        Some(&g1),
        json!({"size": 10, "content_type": "text/html"}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (403, Some("content_type")),
        "{v}"
    );
    let (status, v) = post(
        &uploads,
        Some(&g1),
        json!({"size": 10, "content_type": "image/png", "key": "users/1/x.png"}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (403, Some("key")), "{v}");

    // A grant that lets the caller choose keys still keeps them under its prefix.
    let chooser = mint("users/3", 600, json!({"choose_key": true}));
    let (status, v) = post(
        &uploads,
        Some(&chooser),
        json!({"size": 10, "key": "users/3/a/b.txt"}),
    )
    .await;
    assert_eq!(
        (status, v["key"].as_str()),
        (201, Some("users/3/a/b.txt")),
        "{v}"
    );
    for bad in ["users/30/x", "users/x", "users/3/../4/x"] {
        let (status, v) = post(&uploads, Some(&chooser), json!({"size": 10, "key": bad})).await;
        assert!(matches!(status, 400 | 403), "{bad}: {status} {v}");
        assert_eq!(v["field"], "key");
    }

    // Expired, tampered and foreign grants.
    let expired = mint("users/1", -1, json!({}));
    let (status, v) = post(&uploads, Some(&expired), json!({"size": 1})).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("grant_expired")),
        "{v}"
    );
    let mut parts: Vec<&str> = g1.split('.').collect();
    let other = mint("", 600, json!({}));
    parts[1] = other.split('.').nth(1).unwrap();
    let tampered = parts.join(".");
    let (status, v) = post(&uploads, Some(&tampered), json!({"size": 1})).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_grant")),
        "{v}"
    );
    let claims: hoist_server::GrantClaims =
        serde_json::from_value(json!({"sub": "u", "exp": 4_000_000_000u64, "prefix": "p"}))
            .unwrap();
    let foreign = hoist_server::mint_grant(b"not the grant secret", &claims);
    let (status, _) = post(&uploads, Some(&foreign), json!({"size": 1})).await;
    assert_eq!(status, 401);
    srv.stop().await;
}

#[tokio::test]
async fn anonymous_only_when_enabled() {
    let store = start_store().await;
    let closed = start_server(config(&store.handle)).await;
    let (status, v) = post(
        &format!("{}/v1/uploads", closed.base),
        None,
        json!({"size": 1}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("unauthenticated")),
        "{v}"
    );
    let (status, v) = post(
        &format!("{}/v1/uploads", closed.base),
        Some("wrong-key"),
        json!({"size": 1}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("bad_api_key")),
        "{v}"
    );
    closed.stop().await;

    let open = start_server(config(&store.handle).with_anonymous(true)).await;
    let (status, up) = post(
        &format!("{}/v1/uploads", open.base),
        None,
        json!({"size": 1}),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    // Anonymous callers may not choose keys, and an API key holder is not the anonymous owner.
    let (status, v) = post(
        &format!("{}/v1/uploads", open.base),
        None,
        json!({"size": 1, "key": "x/y"}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (403, Some("key")));
    let (status, _) = get(
        &format!("{}/v1/uploads/{}", open.base, up["id"].as_str().unwrap()),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, 403);
    open.stop().await;
}
