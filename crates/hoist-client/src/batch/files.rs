//! What a batch uploads: the files named by the caller's arguments (files, folders walked
//! recursively, glob patterns), each with the key it gets, filtered by `--include` and
//! `--exclude`.
//!
//! A file's key is its path relative to the argument that named it (a folder's contents,
//! a glob's base folder, a file's own name), with `/` between segments whatever the OS.
//! Symbolic links met while walking a folder are skipped unless asked to follow them (a
//! link to a folder above it is not entered, so a link loop ends); an argument that is itself a link is followed,
//! as the caller named it.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::glob::{Glob, has_magic};
use crate::error::{Error, Result};

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFile {
    pub path: PathBuf,
    /// The path relative to the argument that named it, `/`-separated: the key's suffix.
    pub relative: String,
    pub size: u64,
}

/// Something the walk could not take: an unreadable folder, a name that is not UTF-8, a
/// file that is not a regular file. It counts as a failed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlisted {
    pub path: PathBuf,
    pub reason: String,
}

/// How arguments become files.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Vec<Glob>,
    pub exclude: Vec<Glob>,
    pub follow_symlinks: bool,
}

/// The files of a batch, in a stable order (by argument, then by relative path), and what
/// could not be listed.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub files: Vec<BatchFile>,
    pub unlisted: Vec<Unlisted>,
}

impl Selection {
    /// Whether a file at `relative` is selected: not excluded, and included when any
    /// include pattern is given.
    pub fn selects(&self, relative: &str) -> bool {
        if self.exclude.iter().any(|g| g.matches(relative)) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|g| g.matches(relative))
    }
}

/// Lists every file the arguments name. An argument that names nothing (no such path, a
/// glob that matches no file) is an error before anything is sent; so are two files that
/// would get the same key.
pub fn list(args: &[PathBuf], selection: &Selection) -> Result<Listing> {
    let mut out = Listing::default();
    for arg in args {
        let before = out.files.len();
        let text = arg.to_string_lossy();
        match std::fs::metadata(arg) {
            Ok(meta) if meta.is_dir() => walk(arg, selection, &mut out),
            Ok(meta) if meta.is_file() => match name_of(arg) {
                Some(name) => {
                    if selection.selects(&name) {
                        out.files.push(BatchFile {
                            path: arg.clone(),
                            relative: name,
                            size: meta.len(),
                        });
                    }
                    continue;
                }
                None => out.unlisted.push(Unlisted {
                    path: arg.clone(),
                    reason: "its name is not UTF-8, and S3 keys are".into(),
                }),
            },
            Ok(_) => out.unlisted.push(Unlisted {
                path: arg.clone(),
                reason: "not a regular file or folder".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && has_magic(&text) => {
                glob(arg, selection, &mut out)?;
                if out.files.len() == before {
                    return Err(Error::Config(format!("{text}: no file matches")));
                }
            }
            Err(e) => {
                return Err(Error::Source {
                    path: arg.clone(),
                    source: e,
                });
            }
        }
    }
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for f in &out.files {
        if let Some(other) = seen.insert(&f.relative, &f.path) {
            return Err(Error::Config(format!(
                "{} and {} would both be stored as {:?}: upload them to different prefixes",
                other.display(),
                f.path.display(),
                f.relative
            )));
        }
    }
    Ok(out)
}

fn name_of(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_owned)
}

/// A folder's files, keyed relative to the folder.
fn walk(root: &Path, selection: &Selection, out: &mut Listing) {
    let mut visited = HashSet::new();
    if let Ok(m) = std::fs::metadata(root) {
        visited.insert((m.dev(), m.ino()));
    }
    let mut found = Vec::new();
    descend(root, "", selection, &mut visited, &mut found, out, &|_| {
        true
    });
    found.sort_by(|a: &BatchFile, b| a.relative.cmp(&b.relative));
    out.files.extend(found);
}

/// A glob's files: the folder before its first magic segment is walked, and each file's
/// path relative to it must match the rest of the pattern.
fn glob(arg: &Path, selection: &Selection, out: &mut Listing) -> Result<()> {
    let text = arg.to_string_lossy();
    let segments: Vec<&str> = text.split('/').collect();
    let first_magic = segments.iter().position(|s| has_magic(s)).unwrap_or(0);
    let base = segments[..first_magic].join("/");
    let pattern = Glob::new(&segments[first_magic..].join("/"))?;
    // The rest of the pattern is matched as a whole path, even without `/` in it.
    let whole = Glob::new(&format!("./{}", pattern.as_str()))?;
    let root = match (base.as_str(), text.starts_with('/')) {
        ("", true) => PathBuf::from("/"),
        ("", false) => PathBuf::from("."),
        (b, _) => PathBuf::from(b),
    };
    let mut visited = HashSet::new();
    let mut found = Vec::new();
    let matches = |rel: &str| whole.matches(&format!("./{rel}"));
    descend(
        &root,
        "",
        selection,
        &mut visited,
        &mut found,
        out,
        &matches,
    );
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    out.files.extend(found);
    Ok(())
}

fn descend(
    dir: &Path,
    prefix: &str,
    selection: &Selection,
    visited: &mut HashSet<(u64, u64)>,
    found: &mut Vec<BatchFile>,
    out: &mut Listing,
    wanted: &dyn Fn(&str) -> bool,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.unlisted.push(Unlisted {
                path: dir.to_path_buf(),
                reason: format!("cannot list the folder: {e}"),
            });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.unlisted.push(Unlisted {
                    path: dir.to_path_buf(),
                    reason: format!("cannot list the folder: {e}"),
                });
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            out.unlisted.push(Unlisted {
                path,
                reason: "its name is not UTF-8, and S3 keys are".into(),
            });
            continue;
        };
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let meta = if kind.is_symlink() {
            if !selection.follow_symlinks {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    out.unlisted.push(Unlisted {
                        path,
                        reason: format!("a broken symbolic link: {e}"),
                    });
                    continue;
                }
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.unlisted.push(Unlisted {
                        path,
                        reason: e.to_string(),
                    });
                    continue;
                }
            }
        };
        if meta.is_dir() {
            // `visited` holds the folders above this one: a link back to one of them would
            // loop, so it is not entered; a folder reached by two paths is walked under each.
            let id = (meta.dev(), meta.ino());
            if visited.insert(id) {
                descend(&path, &relative, selection, visited, found, out, wanted);
                visited.remove(&id);
            }
        } else if meta.is_file() {
            if wanted(&relative) && selection.selects(&relative) {
                found.push(BatchFile {
                    path,
                    relative,
                    size: meta.len(),
                });
            }
        } else if wanted(&relative) && selection.selects(&relative) {
            out.unlisted.push(Unlisted {
                path,
                reason: "not a regular file (a socket, a device or a pipe)".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (p, body) in [
            ("a.txt", "a"),
            ("sub/b.jpg", "bb"),
            ("sub/deeper/c d é.jpg", "ccc"),
            ("sub/deeper/empty", ""),
            ("skip/x.tmp", "x"),
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        std::os::unix::fs::symlink(root.join("sub"), root.join("link")).unwrap();
        dir
    }

    fn relatives(l: &Listing) -> Vec<&str> {
        l.files.iter().map(|f| f.relative.as_str()).collect()
    }

    #[test]
    fn folders_are_walked_relative_to_themselves_and_links_skipped() {
        let t = tree();
        let l = list(&[t.path().to_path_buf()], &Selection::default()).unwrap();
        assert_eq!(
            relatives(&l),
            [
                "a.txt",
                "skip/x.tmp",
                "sub/b.jpg",
                "sub/deeper/c d é.jpg",
                "sub/deeper/empty"
            ]
        );
        assert_eq!(l.files[3].size, 3);
        let follow = Selection {
            follow_symlinks: true,
            ..Selection::default()
        };
        std::os::unix::fs::symlink(t.path(), t.path().join("sub/loop")).unwrap();
        let l = list(&[t.path().to_path_buf()], &follow).unwrap();
        let names = relatives(&l);
        assert!(
            names.contains(&"link/b.jpg") && names.contains(&"sub/b.jpg"),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("loop")), "{names:?}");
    }

    #[test]
    fn include_exclude_and_globs() {
        let t = tree();
        let sel = Selection {
            include: vec![Glob::new("*.jpg").unwrap()],
            exclude: vec![Glob::new("sub/deeper/**").unwrap()],
            follow_symlinks: false,
        };
        let l = list(&[t.path().to_path_buf()], &sel).unwrap();
        assert_eq!(relatives(&l), ["sub/b.jpg"]);
        let pattern = t.path().join("sub/**/*.jpg");
        let l = list(&[pattern], &Selection::default()).unwrap();
        assert_eq!(relatives(&l), ["b.jpg", "deeper/c d é.jpg"]);
        let none = list(&[t.path().join("*.nothing")], &Selection::default());
        assert!(none.is_err());
    }

    #[test]
    fn missing_arguments_and_colliding_keys_are_refused() {
        let t = tree();
        let missing = list(&[t.path().join("nope")], &Selection::default());
        assert!(missing.is_err());
        let twice = list(
            &[t.path().join("a.txt"), t.path().join("a.txt")],
            &Selection::default(),
        );
        assert!(twice.unwrap_err().to_string().contains("a.txt"));
    }
}
