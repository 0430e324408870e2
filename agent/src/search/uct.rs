//! The child of highest UCT among many, without comparing them all on every descent.
//!
//! UCT gives child `i` of a node with `N` visits the key `vᵢ + c·√(ln N / nᵢ)`. Its visits
//! keep the children's keys close to each other (that is its point), so no bound prunes
//! many of them; but between two descents only a few keys change for their own reasons
//! (the children on the backed-up path), while the rest move together with `√ln N`. A
//! tournament tree over the children keeps, at each match, the winner and the range of
//! `x = √ln N` in which that winner is certain: the two keys are lines in `x`, so the
//! winner holds until they cross. A descent replays only the matches whose range no longer
//! holds `x` (those above a changed child, and those whose lines crossed), so a step costs
//! O(log k) matches for k children instead of k comparisons.
//!
//! The result is the full comparison's to the last bit: every match compares the keys as
//! the caller computes them (ties to the lower child), and a match whose keys are within
//! rounding distance of each other is certain only at the `x` it was played at.

/// How close two keys may be (relative to the larger) before the winner is taken as
/// certain only where it was compared: far above the rounding error of a key (a few
/// units in the last place), far below any difference a score makes.
const NEAR: f64 = 1e-9;

/// A match: its winner (a leaf position; `None`: no child below competes) and the range
/// of `x` in which that winner is certain (empty: to be played again).
#[derive(Clone, Copy, Debug)]
struct Match {
    winner: Option<u32>,
    lo: f64,
    hi: f64,
}

impl Match {
    const STALE: Match = Match {
        winner: None,
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
    };

    fn holds(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// A competitor's key at the `x` of a descent, in parts: `value + slope · x` in real
/// arithmetic, and `key` as the caller computed it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub(crate) key: f64,
    pub(crate) value: f64,
    /// `c / √n`.
    pub(crate) slope: f64,
}

/// The tournament over one node's children, in their order (leaf `p` is the `p`-th
/// child). Children that do not compete (duplicates) are leaves without a winner.
#[derive(Clone, Debug)]
pub(crate) struct Tournament {
    /// Leaves at `capacity..capacity + len`, the root at 1.
    matches: Vec<Match>,
    capacity: usize,
    len: usize,
    /// The score range the stored values were normalized over: when it moves, every
    /// value moves, and every match is played again.
    range: Option<(f64, f64)>,
}

impl Tournament {
    pub(crate) fn new() -> Tournament {
        Tournament {
            matches: vec![Match::STALE; 2],
            capacity: 1,
            len: 0,
            range: None,
        }
    }

    /// Adds the next child (`competes`: false for a duplicate).
    pub(crate) fn push(&mut self, competes: bool) {
        if self.len == self.capacity {
            let leaves: Vec<Match> = self.matches[self.capacity..self.capacity + self.len].to_vec();
            self.capacity *= 2;
            self.matches = vec![Match::STALE; 2 * self.capacity];
            self.matches[self.capacity..self.capacity + self.len].copy_from_slice(&leaves);
        }
        let leaf = self.len;
        self.len += 1;
        self.matches[self.capacity + leaf] = Match {
            winner: competes.then_some(leaf as u32),
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
        };
        self.changed(leaf);
    }

    /// The `leaf`-th child's key changed for its own reasons: the matches above it are
    /// played again at the next descent.
    pub(crate) fn changed(&mut self, leaf: usize) {
        let mut at = (self.capacity + leaf) / 2;
        while at >= 1 {
            self.matches[at] = Match::STALE;
            at /= 2;
        }
    }

    /// The leaf position of the child of highest key at `x` (ties to the lower position),
    /// `None` when no child competes. `range` is the score range values are normalized
    /// over now; `key` gives a child's key by leaf position.
    pub(crate) fn winner(
        &mut self,
        x: f64,
        range: Option<(f64, f64)>,
        key: &impl Fn(usize) -> Key,
    ) -> Option<usize> {
        if self.range != range {
            self.range = range;
            for m in &mut self.matches[1..self.capacity] {
                *m = Match::STALE;
            }
        }
        self.play(1, x, key);
        self.matches[1].winner.map(|w| w as usize)
    }

    fn play(&mut self, at: usize, x: f64, key: &impl Fn(usize) -> Key) {
        if at >= self.capacity || self.matches[at].holds(x) {
            // A leaf (padding leaves past `len` stay without a winner, certain everywhere
            // once played: see below), or a match still certain.
            if at >= self.capacity + self.len {
                self.matches[at] = Match {
                    winner: None,
                    lo: f64::NEG_INFINITY,
                    hi: f64::INFINITY,
                };
            }
            return;
        }
        self.play(2 * at, x, key);
        self.play(2 * at + 1, x, key);
        let (left, right) = (self.matches[2 * at], self.matches[2 * at + 1]);
        let (lo, hi) = (left.lo.max(right.lo), left.hi.min(right.hi));
        self.matches[at] = match (left.winner, right.winner) {
            (None, winner) | (winner, None) => Match { winner, lo, hi },
            (Some(a), Some(b)) => {
                let (ka, kb) = (key(a as usize), key(b as usize));
                // Ties to the lower position: `a` is left of `b`.
                let (winner, w, l) = if kb.key > ka.key {
                    (b, kb, ka)
                } else {
                    (a, ka, kb)
                };
                let (certain_lo, certain_hi) = certain(w, l, x);
                Match {
                    winner: Some(winner),
                    lo: lo.max(certain_lo),
                    hi: hi.min(certain_hi),
                }
            }
        };
    }
}

/// The range of `x` around the current one in which `w`'s key stays above `l`'s by more
/// than rounding can blur; just `x` itself when they are that close now.
fn certain(w: Key, l: Key, x: f64) -> (f64, f64) {
    // The same value and visits: the same key at every `x`, so the tie always goes the
    // way it went (to the lower position).
    if w.value == l.value && w.slope == l.slope {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    let margin = NEAR * (1.0 + w.key.abs().max(l.key.abs()));
    if w.key - l.key <= 2.0 * margin {
        return (x, x);
    }
    // w - l = dv + ds·x in real arithmetic: certain while that exceeds the margin.
    let (dv, ds) = (w.value - l.value, w.slope - l.slope);
    let (lo, hi) = if ds > 0.0 {
        ((margin - dv) / ds, f64::INFINITY)
    } else if ds < 0.0 {
        (f64::NEG_INFINITY, (dv - margin) / ds.abs())
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    };
    if lo <= x && x <= hi { (lo, hi) } else { (x, x) }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha12Rng;

    use super::*;

    /// Keys of `(value, visits, competes)` children at `ln_n`, as UCT computes them.
    fn key_of(children: &[(f64, f64, bool)], c: f64, ln_n: f64) -> impl Fn(usize) -> Key + '_ {
        move |p| {
            let (value, visits, _) = children[p];
            Key {
                key: value + c * (ln_n / visits).sqrt(),
                value,
                slope: c / visits.sqrt(),
            }
        }
    }

    fn full_scan(children: &[(f64, f64, bool)], c: f64, ln_n: f64) -> Option<usize> {
        let key = key_of(children, c, ln_n);
        let mut best: Option<(f64, usize)> = None;
        for (p, child) in children.iter().enumerate() {
            if !child.2 {
                continue;
            }
            let k = key(p).key;
            if best.is_none_or(|(b, _)| k > b) {
                best = Some((k, p));
            }
        }
        best.map(|(_, p)| p)
    }

    #[test]
    fn the_winner_is_the_full_scans_as_keys_change_and_time_moves() {
        let mut world = ChaCha12Rng::seed_from_u64(3);
        for c in [0.0, 0.05, std::f64::consts::SQRT_2, 6.0] {
            let mut children: Vec<(f64, f64, bool)> = Vec::new();
            let mut tournament = Tournament::new();
            let mut visits = 10.0f64;
            for step in 0..3000 {
                if children.len() < 300 && world.random_bool(0.2) {
                    // Few distinct values: ties of value and of visits.
                    let value = f64::from(world.random_range(0..6u32)) * 0.2;
                    let competes = world.random_bool(0.95);
                    children.push((value, 1.0, competes));
                    tournament.push(competes);
                }
                if children.is_empty() {
                    continue;
                }
                // Time mostly moves forward, now and then back (steps in flight released).
                visits = (visits + world.random_range(-1.0..3.0)).max(1.0);
                let ln_n = visits.ln();
                let expected = full_scan(&children, c, ln_n);
                let got = tournament.winner(ln_n.sqrt(), None, &key_of(&children, c, ln_n));
                assert_eq!(got, expected, "step {step}, c {c}");
                // The descent visits the winner; now and then another child changes.
                if let Some(p) = got {
                    children[p].1 += 1.0;
                    if world.random_bool(0.3) {
                        children[p].0 = (children[p].0 + 0.2).min(1.0);
                    }
                    tournament.changed(p);
                }
                if world.random_bool(0.1) {
                    let p = world.random_range(0..children.len());
                    children[p].1 += 1.0;
                    tournament.changed(p);
                }
            }
        }
    }
}
