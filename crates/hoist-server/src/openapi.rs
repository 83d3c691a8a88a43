//! The OpenAPI document of the coordinator's API: the file every route is checked against,
//! and the form a running coordinator serves, with its own limits written in.

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// [`OPENAPI`] with this coordinator's own limits written in: the largest size it accepts,
/// and for a single PUT (the Uppy routes' `size`) no more than S3's 5 GiB either.
pub fn openapi_for(max_upload_size: u64) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(OPENAPI) else {
        return OPENAPI.to_owned();
    };
    let max = serde_json::Value::from(max_upload_size);
    let single = serde_json::Value::from(max_upload_size.min(hoist_core::plan::MAX_SINGLE_PUT));
    let sizes = [
        ("/components/schemas/CreateUpload/properties/size", &max),
        (
            "/paths/~1s3~1sign/post/requestBody/content/application~1json/schema/properties/size",
            &single,
        ),
    ];
    for (pointer, max) in sizes {
        if let Some(schema) = doc.pointer_mut(pointer).and_then(|s| s.as_object_mut()) {
            schema.insert("maximum".into(), max.clone());
        }
    }
    if let Some(params) = doc
        .pointer_mut("/paths/~1s3~1params/get/parameters")
        .and_then(|p| p.as_array_mut())
    {
        for p in params.iter_mut().filter(|p| p["name"] == "size") {
            if let Some(schema) = p["schema"].as_object_mut() {
                schema.insert("maximum".into(), single.clone());
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| OPENAPI.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_document_carries_this_coordinators_size_limits() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_for(1000)).unwrap();
        let create = &doc["components"]["schemas"]["CreateUpload"]["properties"]["size"];
        assert_eq!(create["maximum"], 1000);
        let big: serde_json::Value =
            serde_json::from_str(&openapi_for(hoist_core::plan::MAX_OBJECT_SIZE)).unwrap();
        let sign = &big["paths"]["/s3/sign"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["properties"]["size"];
        assert_eq!(sign["maximum"], hoist_core::plan::MAX_SINGLE_PUT);
        let params = big["paths"]["/s3/params"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "size")
            .unwrap();
        assert_eq!(
            params["schema"]["maximum"],
            hoist_core::plan::MAX_SINGLE_PUT
        );
    }
}
