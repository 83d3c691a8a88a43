//! Sending parts again when a Complete refuses parts the store listed as stored.
//!
//! A resumed upload takes over the parts the store lists. Two things can make the Complete
//! refuse them (S3's `InvalidPart`): another writer replaced a part since (the listing now
//! shows another ETag, or none), or the store listed a part it never finished committing.
//! Garage does the latter: a part whose connection closed while the store wrote its last
//! record is listed with its ETag, but its data is marked deleted, so the Complete fails
//! while every listed ETag matches. The parts of a killed run that no journal recorded are
//! exactly those whose answer no client saw, so they are the suspects then.
//!
//! Either way the parts are read again from the file and sent once more; the Complete is
//! then repeated once. A stream cannot be read again: its refusal stands.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use hoist_s3::with_retries;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result, log_retry};
use crate::pipeline::transfer;
use crate::prepare::Reread;
use crate::progress::Progress;
use crate::source::Feed;
use crate::stage::{Emit, Run, Stage};
use crate::transport::{Session, Transport};

/// Which of the run's parts to send again after `refused`: those the store now lists with
/// another ETag or not at all; when the listing matches every one, the `unconfirmed` ones.
/// Empty when there is nothing to try.
fn to_send_again(
    ours: &BTreeMap<u32, String>,
    listed: &BTreeMap<u32, String>,
    unconfirmed: &BTreeSet<u32>,
) -> Vec<u32> {
    fn unquoted(etag: &str) -> &str {
        etag.trim_matches('"')
    }
    let differ: Vec<u32> = ours
        .iter()
        .filter(|(n, etag)| listed.get(*n).map(|l| unquoted(l)) != Some(unquoted(etag)))
        .map(|(n, _)| *n)
        .collect();
    if !differ.is_empty() {
        return differ;
    }
    ours.keys()
        .filter(|n| unconfirmed.contains(n))
        .copied()
        .collect()
}

/// Lists the upload's parts, then sends again from `source` the parts the refused Complete
/// may have stumbled on (see the module's text). `Err(refused)` when there are none.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_again<T: Transport>(
    stage: &Stage<T>,
    session: &Session,
    run: &Arc<Mutex<Run>>,
    source: &Reread,
    unconfirmed: &BTreeSet<u32>,
    refused: Error,
    emit: &Emit,
    cancel: &CancellationToken,
) -> Result<()> {
    let listed = with_retries(&stage.config.retry, cancel, log_retry, |_| {
        stage.transport.list_parts(session)
    })
    .await
    .map_err(Error::from)?;
    let listed: BTreeMap<u32, String> = listed.into_iter().map(|p| (p.number, p.etag)).collect();
    let ours: BTreeMap<u32, String> = {
        let r = run.lock().unwrap();
        r.parts.iter().map(|(n, (e, ..))| (*n, e.clone())).collect()
    };
    let numbers = to_send_again(&ours, &listed, unconfirmed);
    let parts: Vec<_> = numbers
        .iter()
        .filter_map(|n| session.plan.part(*n))
        .collect();
    if parts.is_empty() {
        return Err(refused);
    }
    tracing::warn!(parts = ?numbers, error = %refused, "sending refused parts again");
    emit(Progress::SendingAgain {
        parts: numbers.clone(),
        reason: refused.to_string(),
    });
    {
        let mut r = run.lock().unwrap();
        for n in &numbers {
            if let Some((_, size, _)) = r.parts.remove(n) {
                r.done_bytes = r.done_bytes.saturating_sub(size);
            }
            if let Some(j) = &mut r.journal {
                j.parts.remove(n);
            }
        }
    }
    let feed = Feed::File {
        file: source.file.clone(),
        path: source.path.clone(),
        parts,
    };
    transfer(stage, feed, session, run, emit.clone(), cancel).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: &[(u32, &str)]) -> BTreeMap<u32, String> {
        v.iter().map(|(n, e)| (*n, (*e).to_owned())).collect()
    }

    #[test]
    fn parts_listed_with_another_etag_or_missing_are_sent_again_first() {
        let ours = map(&[(1, "\"a\""), (2, "\"b\""), (3, "\"c\"")]);
        let listed = map(&[(1, "a"), (2, "\"x\"")]);
        let unconfirmed = BTreeSet::from([1]);
        assert_eq!(to_send_again(&ours, &listed, &unconfirmed), vec![2, 3]);
    }

    #[test]
    fn a_listing_that_matches_leaves_the_unconfirmed_parts() {
        let ours = map(&[(1, "\"a\""), (2, "\"b\""), (3, "\"c\"")]);
        let listed = map(&[(1, "\"a\""), (2, "b"), (3, "\"c\""), (4, "\"d\"")]);
        assert_eq!(
            to_send_again(&ours, &listed, &BTreeSet::from([3, 9])),
            vec![3]
        );
        assert!(to_send_again(&ours, &listed, &BTreeSet::new()).is_empty());
    }
}
