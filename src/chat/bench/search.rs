//! `--find-max`: the search, per model, for the highest offered load the
//! room sustains with zero loss and p99 within `--max-p99`.

use anyhow::Result;

use super::crowd::Crowd;
use super::report::{ms, summary};
use super::{BenchArgs, Trial};

/// The result of a search for a model's highest sustained load.
pub(super) struct Best {
    /// The best probe that sustained its load.
    pub(super) good: Option<Trial>,
    /// The lowest load that failed, and how.
    pub(super) failed: String,
}

pub(super) fn find_max(
    crowd: &mut Crowd,
    args: &BenchArgs,
    model: &str,
    first: &Trial,
) -> Result<Best> {
    let sustained = |t: &Trial| t.lost() == 0 && t.p99 <= args.max_p99;
    let why = |t: &Trial| {
        if t.lost() > 0 {
            format!("{:.0} msg/s: {} lost", t.rate, t.lost())
        } else {
            format!("{:.0} msg/s: p99 {:.1} ms", t.rate, ms(t.p99))
        }
    };
    // A failure counts only if a second try at the same load fails too: the
    // machine is shared, and one busy moment should not halve the answer.
    let probe = |crowd: &mut Crowd, rate: f64| -> Result<Trial> {
        let mut t = crowd.measure(rate, args.probe, args)?;
        eprintln!("bench chat: {model}: probe {}", summary(&t));
        if !sustained(&t) {
            t = crowd.measure(rate, args.probe, args)?;
            eprintln!("bench chat: {model}: again {}", summary(&t));
        }
        Ok(t)
    };
    let (mut good, mut bad) = (None::<Trial>, None::<Trial>);
    let first = if sustained(first) {
        first.clone()
    } else {
        probe(crowd, first.rate)?
    };
    if sustained(&first) {
        good = Some(first);
    } else {
        bad = Some(first);
    }
    // Double until something fails (or halve until something holds)...
    for _ in 0..12 {
        let rate = match (&good, &bad) {
            (Some(g), None) => g.rate * 2.0,
            (None, Some(b)) if b.rate > 1.0 => (b.rate / 2.0).floor().max(1.0),
            _ => break,
        };
        let t = probe(crowd, rate)?;
        if sustained(&t) {
            good = Some(t);
        } else {
            bad = Some(t);
        }
    }
    // ...then narrow the gap to within 10%.
    for _ in 0..4 {
        let (Some(g), Some(b)) = (&good, &bad) else {
            break;
        };
        if b.rate - g.rate <= g.rate * 0.1 {
            break;
        }
        let t = probe(crowd, ((g.rate + b.rate) / 2.0).round())?;
        if sustained(&t) {
            good = Some(t);
        } else {
            bad = Some(t);
        }
    }
    Ok(Best {
        good,
        failed: bad
            .as_ref()
            .map_or("none up to the search limit".into(), why),
    })
}
