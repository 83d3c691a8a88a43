//! Resolution order, errors and the declarations' defaults, on `hoist serve`'s and `hoist
//! store`'s real declarations.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::Path;

use super::{DefaultText, Error, Layer, Scalar as _, Size, Source};
use crate::commands::serve::settings::{self as serve, Settings};
use crate::commands::store::settings as store;

const FILE: &str = "/etc/hoist.toml";

fn args<A: clap::Args + clap::FromArgMatches>(flags: &[&str]) -> A {
    let cmd = A::augment_args(clap::Command::new("hoist"));
    let matches = cmd
        .try_get_matches_from(std::iter::once("hoist").chain(flags.iter().copied()))
        .unwrap_or_else(|e| panic!("{flags:?}: {e}"));
    A::from_arg_matches(&matches).unwrap()
}

fn file(text: &str) -> Result<serve::File, Error> {
    serve::File::from_table(text.parse().unwrap(), Path::new(FILE))
}

fn resolve(flags: &[&str], vars: &[(&str, &str)], toml: Option<&str>) -> Result<Settings, Error> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let file = toml.map(|t| file(t).unwrap());
    args::<serve::Args>(flags).resolve(file, &env)
}

/// Resolves with every layer, then takes them away from the top one at a time: the flag wins,
/// then the variable, then the file, then the default.
fn layers<T: PartialEq + Debug>(
    flags: &[&str],
    var: (&str, &str),
    toml: &str,
    get: impl Fn(&Settings) -> T,
    [from_flag, from_var, from_file, default]: [T; 4],
) {
    let got =
        |flags: &[&str], vars: &[(&str, &str)], toml| get(&resolve(flags, vars, toml).unwrap());
    assert_eq!(
        got(flags, &[var], Some(toml)),
        from_flag,
        "the flag beats the variable"
    );
    assert_eq!(
        got(&[], &[var], Some(toml)),
        from_var,
        "the variable beats the file"
    );
    assert_eq!(
        got(&[], &[], Some(toml)),
        from_file,
        "the file beats the default"
    );
    assert_eq!(got(&[], &[], None), default, "the default");
}

#[test]
fn a_scalar_comes_from_the_flag_then_the_variable_then_the_file_then_the_default() {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    layers(
        &["--listen", "10.0.0.1:1"],
        ("HOIST_LISTEN", "10.0.0.2:2"),
        r#"listen = "10.0.0.3:3""#,
        |s| s.listen,
        [
            addr("10.0.0.1:1"),
            addr("10.0.0.2:2"),
            addr("10.0.0.3:3"),
            addr("127.0.0.1:8080"),
        ],
    );
}

#[test]
fn a_list_comes_whole_from_one_place() {
    let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    layers(
        &["--api-key", "a", "--api-key", "b,c"],
        ("HOIST_API_KEYS", "d,e"),
        r#"api_keys = ["f"]"#,
        |s| s.api_keys.clone(),
        [
            list(&["a", "b", "c"]),
            list(&["d", "e"]),
            list(&["f"]),
            list(&[]),
        ],
    );
}

#[test]
fn a_bool_comes_from_the_flag_then_the_variable_then_the_file_then_the_default() {
    // Each layer says the opposite of the one below, so every step shows.
    layers(
        &["--virtual-host"],
        ("HOIST_VIRTUAL_HOST", "false"),
        "virtual_host = true",
        |s| s.virtual_host,
        [true, false, true, false],
    );
    layers(
        &["--anonymous=false"],
        ("HOIST_ANONYMOUS", "true"),
        "anonymous = false",
        |s| s.anonymous,
        [Some(false), Some(true), Some(false), None],
    );
}

#[test]
fn a_size_comes_from_the_flag_then_the_variable_then_the_file_then_the_default() {
    layers(
        &["--part-size", "6MiB"],
        ("HOIST_PART_SIZE", "7MiB"),
        r#"part_size = "9MiB""#,
        |s| s.part_size.bytes(),
        [6 << 20, 7 << 20, 9 << 20, 8 << 20],
    );
    // A plain number of bytes in the file reads as it would on the command line.
    let s = resolve(&[], &[], Some("part_size = 5242880")).unwrap();
    assert_eq!(s.part_size, Size(5 << 20));
}

#[test]
fn a_fallback_variable_comes_after_the_file() {
    let aws = ("AWS_REGION", "eu-west-1");
    let region =
        |flags: &[&str], vars: &[(&str, &str)], toml| resolve(flags, vars, toml).unwrap().region;
    assert_eq!(
        region(&[], &[("HOIST_REGION", "eu-north-1"), aws], None),
        "eu-north-1"
    );
    assert_eq!(
        region(&[], &[aws], Some(r#"region = "ap-south-1""#)),
        "ap-south-1"
    );
    assert_eq!(region(&[], &[aws], None), "eu-west-1");
    assert_eq!(region(&[], &[], None), "us-east-1");

    let endpoint = |vars: &[(&str, &str)], toml| resolve(&[], vars, toml).unwrap().s3_endpoint;
    let aws = ("AWS_ENDPOINT_URL", "https://aws.example");
    assert_eq!(
        endpoint(&[aws], Some(r#"s3_endpoint = "https://file.example""#)).as_deref(),
        Some("https://file.example")
    );
    assert_eq!(
        endpoint(&[aws], None).as_deref(),
        Some("https://aws.example")
    );
    assert_eq!(endpoint(&[], None), None, "no endpoint: the embedded store");
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let err = file("listen = \"127.0.0.1:1\"\nbukcet = \"b\"\n").unwrap_err();
    assert!(
        matches!(&err, Error::UnknownKey { key, .. } if key == "bukcet"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("`bukcet`") && text.contains(FILE) && text.contains("bucket"),
        "{text}"
    );
}

#[test]
fn a_bad_value_names_the_setting_and_where_it_came_from() {
    let bad = |flags: &[&str], vars: &[(&str, &str)], toml: &str| {
        let file = (!toml.is_empty()).then_some(toml);
        match resolve(flags, vars, file) {
            Err(Error::BadValue { setting, from, why }) => (setting, from, why),
            other => panic!("{flags:?} {vars:?} {toml:?}: {other:?}"),
        }
    };
    let (setting, from, why) = bad(&["--max-upload-size", "10XB"], &[], "");
    assert_eq!(setting, "max_upload_size");
    assert_eq!(from, Source::Flag("--max-upload-size".into()));
    assert!(why.contains("10XB"), "{why}");

    let (setting, from, _) = bad(&[], &[("HOIST_MAX_UPLOAD_SIZE", "10XB")], "");
    assert_eq!(
        (setting, from),
        ("max_upload_size", Source::Var("HOIST_MAX_UPLOAD_SIZE"))
    );

    let (setting, from, why) = bad(&[], &[("HOIST_STORE_LISTEN", "localhost")], "");
    assert_eq!(
        (setting, from),
        ("store_listen", Source::Var("HOIST_STORE_LISTEN"))
    );
    assert!(why.contains("\"localhost\""), "{why}");
}

#[test]
fn a_bad_value_in_the_file_names_the_file() {
    let err = file(r#"listen = "nowhere""#).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "listen (from file {FILE}): invalid address \"nowhere\": expected IP:PORT, e.g. 127.0.0.1:8080"
        )
    );
    for (toml, why) in [
        (r#"api_keys = "k1""#, "expected an array, found string"),
        ("virtual_host = 1", "expected true or false"),
        (r#"single_put_threshold = "10XB""#, "invalid size \"10XB\""),
        ("part_url_ttl = -5", "expected a whole number"),
    ] {
        let err = file(toml).unwrap_err().to_string();
        assert!(err.contains(why) && err.contains(FILE), "{toml}: {err}");
    }
}

#[test]
fn a_bad_variable_is_refused_even_under_a_good_file() {
    let err = resolve(
        &[],
        &[("HOIST_VIRTUAL_HOST", "yes")],
        Some("virtual_host = true"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "virtual_host (from variable HOIST_VIRTUAL_HOST): invalid value \"yes\": expected true or false"
    );
}

#[test]
fn a_short_token_secret_is_refused_without_being_repeated() {
    let err = resolve(&["--token-secret", "hunter2"], &[], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("token_secret (from flag --token-secret): ") && !err.contains("hunter2"),
        "{err}"
    );
    let s = resolve(&[], &[("HOIST_TOKEN_SECRET", "0123456789abcdef")], None).unwrap();
    assert!(!format!("{s:?}").contains("0123456789abcdef"));
}

#[test]
fn every_default_shown_is_the_one_used() {
    let defaults = format!("{:?}", resolve(&[], &[], None).unwrap());
    let mut shown = 0;
    for spec in serve::specs() {
        if let Some(DefaultText::Value(value)) = &spec.default {
            let flag = format!("{}={value}", spec.flag());
            let given = format!("{:?}", resolve(&[&flag], &[], None).unwrap());
            assert_eq!(given, defaults, "{flag}");
            assert!(
                spec.arg()
                    .get_help()
                    .unwrap()
                    .to_string()
                    .contains("[default: "),
                "{flag}"
            );
            shown += 1;
        }
    }
    assert!(shown >= 10, "only {shown} defaults are values");
}

#[test]
fn help_names_the_default_and_the_variables() {
    let help = |key: &str| {
        serve::specs()
            .into_iter()
            .find(|s| s.key == key)
            .unwrap()
            .arg()
            .get_help()
            .unwrap()
            .to_string()
    };
    assert!(
        help("part_size").ends_with("[default: 8MiB] [env: HOIST_PART_SIZE]"),
        "{}",
        help("part_size")
    );
    assert!(
        help("region").ends_with("[default: AWS_REGION, else us-east-1] [env: HOIST_REGION]"),
        "{}",
        help("region")
    );
}

#[test]
fn a_required_setting_without_a_value_is_named() {
    let err = args::<store::Args>(&[])
        .resolve(None, &|_| None)
        .unwrap_err();
    assert_eq!(err.to_string(), "--data is required (or HOIST_DATA)");
    let s = args::<store::Args>(&["--fault-clock-offset", "-3600"])
        .resolve(None, &|name| (name == "HOIST_DATA").then(|| "/srv".into()))
        .unwrap();
    assert_eq!(
        (s.fault_clock_offset, s.data.to_str()),
        (-3600, Some("/srv"))
    );
}

#[test]
fn sizes_show_in_the_largest_exact_unit() {
    for (bytes, shown) in [
        (8 << 20, "8MiB"),
        (hoist_core::plan::MAX_OBJECT_SIZE, "50000GiB"),
        (1536, "1536"),
        (0, "0"),
    ] {
        assert_eq!(Size(bytes).show(), shown);
        assert_eq!(Size::parse(shown), Ok(Size(bytes)));
    }
}
