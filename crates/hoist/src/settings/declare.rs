//! [`settings!`]: a command's settings, each declared once.

/// Declares a command's settings in a module of their own.
///
/// ```ignore
/// settings! {
///     /// Every setting of `hoist example`.
///     pub mod settings {
///         /// Address to listen on.
///         listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), env "HOIST_LISTEN", value "ADDR";
///         /// API key accepted (repeat, or comma-separated).
///         api_keys: Vec<String>, flag "api-key", env "HOIST_API_KEYS", value "KEY";
///         /// Region of the store.
///         region: String = "us-east-1", env "HOIST_REGION", fallback "AWS_REGION";
///         /// Secret of the grants.
///         grant_secret: Option<String>, env "HOIST_GRANT_SECRET", unset "grants are refused";
///     }
/// }
/// ```
///
/// Each setting is `name: Type [= default]`, then in this order: `flag "name"` when the flag is
/// not the name with `-` for `_`; `env "VAR"`; `fallback "VAR", …` for variables read after the
/// file; `value "NAME"` for `--help`; `unset EXPR` for words that say what happens when nothing
/// sets it. `Type` is a [`Setting`](crate::settings::Setting): a scalar (required unless it has a
/// default), an `Option` of one or a `Vec` of them. The doc comment is the help.
///
/// The module gets `Key` (the settings, named; `Key::spec` is a setting's declaration and
/// `Key::ALL` lists them), `Args` (the flags as typed; a clap `Args`, to flatten into the
/// command's), `File` (the typed values of a TOML file, unknown keys refused), `Settings` (the
/// resolved values) with `Args::resolve`, and `specs()` for the settings table.
macro_rules! settings {
    (@default $ty:ty, $default:expr) => {
        ::core::option::Option::Some(::core::convert::Into::<$ty>::into($default))
    };
    (@default $ty:ty) => {
        <$ty as $crate::settings::Setting>::absent()
    };
    (@some) => {
        ::core::option::Option::None
    };
    (@some $value:expr) => {
        ::core::option::Option::Some($value)
    };
    (@said) => {
        ::core::option::Option::None::<String>
    };
    (@said $words:expr) => {
        ::core::option::Option::Some(::std::string::String::from($words))
    };
    (
        $(#[$meta:meta])*
        $vis:vis mod $module:ident {
            $(
                $(#[doc = $help:literal])+
                $name:ident : $ty:ty $(= $default:expr)?
                    $(, flag $flag:literal)?
                    , env $env:literal
                    $(, fallback $($fallback:literal),+)?
                    $(, value $value_name:literal)?
                    $(, unset $unset:expr)?
                ;
            )+
        }
    ) => {
        $(#[$meta])*
        $vis mod $module {
            #![allow(non_camel_case_types)]

            #[allow(unused_imports)]
            use super::*;
            use $crate::settings as model;

            /// The settings, named.
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub enum Key {
                $($name,)+
            }

            impl Key {
                /// Every setting, in declaration order.
                pub const ALL: &'static [Key] = &[$(Key::$name),+];

                /// The setting's declaration.
                pub fn spec(self) -> model::Spec {
                    match self {
                        $(Key::$name => model::Spec {
                            key: stringify!($name),
                            flag: $crate::settings::settings!(@some $($flag)?),
                            env: $env,
                            fallback: &[$($($fallback),+)?],
                            value_name: $crate::settings::settings!(@some $($value_name)?),
                            help: model::help_line(&[$($help),+]),
                            shape: <$ty as model::Setting>::SHAPE,
                            default: model::default_of::<$ty>(
                                $crate::settings::settings!(@default $ty $(, $default)?),
                                $crate::settings::settings!(@said $($unset)?),
                            ),
                            required: $crate::settings::settings!(@default $ty $(, $default)?)
                                .is_none(),
                        },)+
                    }
                }
            }

            /// Every setting's declaration, in order: the rows of the settings table.
            pub fn specs() -> Vec<model::Spec> {
                Key::ALL.iter().map(|k| k.spec()).collect()
            }

            /// The flags, as typed (empty when not given).
            #[derive(Debug, Default, Clone)]
            pub struct Args {
                $(pub $name: Vec<String>,)+
            }

            impl clap::Args for Args {
                fn augment_args(cmd: clap::Command) -> clap::Command {
                    cmd.args(specs().iter().map(model::Spec::arg))
                }
                fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
                    Self::augment_args(cmd)
                }
            }

            impl clap::FromArgMatches for Args {
                fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
                    Ok(Self {
                        $($name: model::given(m, stringify!($name)),)+
                    })
                }
                fn update_from_arg_matches(
                    &mut self,
                    m: &clap::ArgMatches,
                ) -> Result<(), clap::Error> {
                    *self = Self::from_arg_matches(m)?;
                    Ok(())
                }
            }

            /// The values of a TOML file, keyed by the settings' names.
            #[derive(Debug, Default, Clone)]
            pub struct File {
                $(pub $name: Option<$ty>,)+
            }

            impl model::Layer for File {
                fn from_table(
                    mut table: toml::Table,
                    path: &::std::path::Path,
                ) -> Result<Self, model::Error> {
                    model::check_keys(&table, &[$(stringify!($name)),+], path)?;
                    Ok(Self {
                        $($name: model::from_file(
                            &Key::$name.spec(),
                            table.remove(stringify!($name)),
                            path,
                        )?,)+
                    })
                }
            }

            /// The settings, resolved.
            #[derive(Debug, Clone)]
            pub struct Settings {
                $(
                    $(#[doc = $help])+
                    pub $name: $ty,
                )+
            }

            impl Args {
                /// Each setting from its flag, else its variable, else `file`, else its
                /// fallback variable, else its default.
                pub fn resolve(
                    self,
                    file: Option<File>,
                    env: model::Env<'_>,
                ) -> Result<Settings, model::Error> {
                    let file = file.unwrap_or_default();
                    Ok(Settings {
                        $($name: model::pick(
                            &Key::$name.spec(),
                            self.$name,
                            env,
                            file.$name,
                            $crate::settings::settings!(@default $ty $(, $default)?),
                        )?,)+
                    })
                }
            }
        }
    };
}

pub(crate) use settings;
