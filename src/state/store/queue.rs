//! The review queue as people work it: which reviews a filter selects, in which order, a
//! page at a time, and how many match.
//!
//! One implementation of the filter for every store: the engine (memory, embedded) runs
//! it over its time index, Redis over the records it reads in batches along its own. A
//! page is found from a cursor (the time and id of the last review shown), never by an
//! offset, so that the thousandth page costs what the first does and a review arriving
//! meanwhile does not shift the pages. What it approximates: the counts are taken over at
//! most [`COUNT_CAP`] matching reviews; past that a count says "at least".

use super::review::Review;
use crate::core::money::{Amount, Currency};
use serde::{Deserialize, Serialize};

/// Counts stop here; a larger queue is shown as "at least" this many.
pub const COUNT_CAP: usize = 10_000;
/// The longest page a caller may ask for.
pub const MAX_PAGE: usize = 200;

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Nobody holds it.
    Waiting,
    /// Someone opened it and holds it for a few minutes.
    Claimed,
    /// Handed to the people who may decide what reviewers may not.
    Escalated,
    Resolved,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 4] = [
        ReviewStatus::Waiting,
        ReviewStatus::Claimed,
        ReviewStatus::Escalated,
        ReviewStatus::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Waiting => "waiting",
            ReviewStatus::Claimed => "claimed",
            ReviewStatus::Escalated => "escalated",
            ReviewStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Where `review` stands at `now` (a claim past its time no longer holds).
    pub fn of(review: &Review, now: i64) -> Self {
        if review.resolution.is_some() {
            ReviewStatus::Resolved
        } else if review.escalation.is_some() {
            ReviewStatus::Escalated
        } else if review.claim.as_ref().is_some_and(|c| c.until > now) {
            ReviewStatus::Claimed
        } else {
            ReviewStatus::Waiting
        }
    }
}

/// Where a page starts: after the review at this time with this id, in the query's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub at: i64,
    pub id: String,
}

impl Cursor {
    pub fn of(review: &Review) -> Self {
        Cursor {
            at: review.at,
            id: review.id.clone(),
        }
    }

    /// `at.id`, as a link carries it.
    pub fn to_text(&self) -> String {
        format!("{}.{}", self.at, self.id)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        Some(Cursor {
            at: at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// Which reviews, in which order, how many.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewQuery {
    /// `None`: any status but resolved (the open queue), unless `all_statuses`.
    pub status: Option<ReviewStatus>,
    /// Every status, resolved included (`status=all`).
    pub all_statuses: bool,
    /// Only the reviews carrying this identity key (fact, keyed hash): a store walks the
    /// key's own index for it, so a customer's history costs what their reviews do.
    pub key: Option<(String, String)>,
    pub route: Option<String>,
    pub policy: Option<String>,
    /// A reason code (`risk_score`, `binding_exceeded:dni:account`) or a risk rule's name.
    pub rule: Option<String>,
    pub min_score: Option<u32>,
    pub max_score: Option<u32>,
    /// Amount bounds apply in this currency only (reviews in others are left out).
    pub currency: Option<Currency>,
    pub min_amount: Option<u64>,
    pub max_amount: Option<u64>,
    /// Decided at least this many seconds before now.
    pub older_than: Option<i64>,
    /// Decided at most this many seconds before now.
    pub newer_than: Option<i64>,
    /// Held, escalated or resolved by this person.
    pub assignee: Option<String>,
    pub newest_first: bool,
    pub after: Option<Cursor>,
    /// At most [`MAX_PAGE`].
    pub limit: usize,
}

impl ReviewQuery {
    /// Whether `review` is one the query selects, at `now` (cursor aside).
    pub fn matches(&self, review: &Review, now: i64) -> bool {
        self.admits(ReviewStatus::of(review, now)) && self.matches_besides_status(review, now)
    }

    /// Whether the status filter lets `status` through.
    fn admits(&self, status: ReviewStatus) -> bool {
        if self.all_statuses {
            return true;
        }
        match self.status {
            None => status != ReviewStatus::Resolved,
            Some(wanted) => status == wanted,
        }
    }

    /// Every filter but the status one (the counts per status take the rest as they are).
    fn matches_besides_status(&self, review: &Review, now: i64) -> bool {
        let text = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let rule_ok = self.rule.as_deref().is_none_or(|rule| {
            review.reasons.iter().any(|r| {
                r == rule
                    || r.split_once('=').is_some_and(|(name, _)| name == rule)
                    || r.split(':').next() == Some(rule)
            })
        });
        let score = review.score.unwrap_or(0);
        let score_ok =
            self.min_score.is_none_or(|m| score >= m) && self.max_score.is_none_or(|m| score <= m);
        let amount_ok = match self.currency {
            None => true,
            Some(currency) => amount_of(review).is_some_and(|a| {
                a.currency == currency
                    && self.min_amount.is_none_or(|m| a.minor >= m)
                    && self.max_amount.is_none_or(|m| a.minor <= m)
            }),
        };
        let age = now - review.at;
        let age_ok =
            self.older_than.is_none_or(|s| age >= s) && self.newer_than.is_none_or(|s| age <= s);
        let assignee_ok = self.assignee.as_deref().is_none_or(|who| {
            review.claim.as_ref().is_some_and(|c| c.by == who)
                || review.escalation.as_ref().is_some_and(|e| e.by == who)
                || review.resolution.as_ref().is_some_and(|r| r.by == who)
        });
        let key_ok = self
            .key
            .as_ref()
            .is_none_or(|(fact, hash)| review.keys.iter().any(|(f, h)| f == fact && h == hash));
        key_ok
            && text(&self.route, &review.route)
            && text(&self.policy, &review.policy)
            && rule_ok
            && score_ok
            && amount_ok
            && age_ok
            && assignee_ok
    }

    /// Whether `review` lies beyond the cursor, in the query's order.
    pub fn after_cursor(&self, review: &Review) -> bool {
        let Some(cursor) = &self.after else {
            return true;
        };
        let here = (review.at, review.id.as_str());
        let there = (cursor.at, cursor.id.as_str());
        if self.newest_first {
            here < there
        } else {
            here > there
        }
    }

    /// Whether the walk must cover the resolved reviews too (the open index is enough
    /// otherwise).
    pub fn walks_resolved(&self) -> bool {
        self.all_statuses || self.status == Some(ReviewStatus::Resolved)
    }

    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// The order's amount of a review, as a number in its currency.
pub fn amount_of(review: &Review) -> Option<Amount> {
    let currency = Currency::parse(review.currency.as_deref()?)?;
    currency.amount(review.amount.as_deref()?)
}

/// One page of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReviewPage {
    pub reviews: Vec<Review>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// How many reviews the query selects (cursor aside), up to [`COUNT_CAP`].
    pub total: usize,
    /// How many reviews the query would select under each status instead, each up to
    /// [`COUNT_CAP`]: the counts beside the status filter.
    pub by_status: Vec<(ReviewStatus, usize)>,
    /// The counts stopped at [`COUNT_CAP`].
    pub capped: bool,
}

/// A page built from reviews fed in the query's order (time, then id) from the start,
/// with the counts taken along the same walk. Every store walks the same way, so they
/// agree: all of the queue while it holds at most [`COUNT_CAP`] reviews; past that, until
/// the page is full and [`COUNT_CAP`] reviews have been walked, the counts then marked
/// `capped`.
pub struct PageBuilder<'q> {
    query: &'q ReviewQuery,
    now: i64,
    size: usize,
    page: ReviewPage,
    counts: [usize; 4],
    walked: usize,
    full: bool,
}

impl<'q> PageBuilder<'q> {
    pub fn new(query: &'q ReviewQuery, now: i64) -> Self {
        Self {
            query,
            now,
            size: query.page_size(),
            page: ReviewPage::default(),
            counts: [0; 4],
            walked: 0,
            full: false,
        }
    }

    /// Whether the walk may stop: the page is full and enough was counted.
    pub fn done(&self) -> bool {
        self.full && self.walked >= COUNT_CAP
    }

    /// Take the next review of the walk.
    pub fn push(&mut self, review: &Review) {
        self.walked += 1;
        let query = self.query;
        let status = ReviewStatus::of(review, self.now);
        let rest = query.matches_besides_status(review, self.now);
        if rest {
            let slot = ReviewStatus::ALL
                .iter()
                .position(|s| *s == status)
                .unwrap_or(0);
            self.counts[slot] += 1;
        }
        if !(rest && query.admits(status)) {
            return;
        }
        self.page.total += 1;
        if self.full || !query.after_cursor(review) {
            return;
        }
        if self.page.reviews.len() == self.size {
            self.full = true;
            self.page.next = self.page.reviews.last().map(Cursor::of);
        } else {
            self.page.reviews.push(review.clone());
        }
    }

    /// The page; `more` says whether the walk stopped before the end of the queue.
    pub fn finish(mut self, more: bool) -> ReviewPage {
        let cap = |n: usize| n.min(COUNT_CAP);
        self.page.capped = more || self.page.total > COUNT_CAP;
        self.page.total = cap(self.page.total);
        self.page.by_status = ReviewStatus::ALL
            .into_iter()
            .zip(self.counts.map(cap))
            .collect();
        self.page
    }
}

/// A page from reviews in the query's order, all at hand (the engine's).
pub fn page<'r>(
    query: &ReviewQuery,
    ordered: impl Iterator<Item = &'r Review>,
    now: i64,
) -> ReviewPage {
    let mut builder = PageBuilder::new(query, now);
    let mut ordered = ordered.peekable();
    while let Some(review) = ordered.next() {
        builder.push(review);
        if builder.done() {
            return builder.finish(ordered.peek().is_some());
        }
    }
    builder.finish(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(i: usize) -> Review {
        Review {
            id: format!("r{i:05}"),
            at: i as i64,
            route: "cips".into(),
            policy: "cips".into(),
            reasons: vec!["risk_score".into()],
            ..Review::default()
        }
    }

    #[test]
    fn counts_stop_at_the_cap_and_pages_still_fill_past_it() {
        let all: Vec<Review> = (0..COUNT_CAP + 50).map(review).collect();
        let query = ReviewQuery {
            limit: 10,
            ..ReviewQuery::default()
        };
        let first = page(&query, all.iter(), 1_000_000);
        assert_eq!(first.reviews.len(), 10);
        assert_eq!((first.total, first.capped), (COUNT_CAP, true));
        // A page beyond the cap is still found, from its cursor.
        let deep = ReviewQuery {
            after: Some(Cursor::of(&all[COUNT_CAP + 30])),
            ..query.clone()
        };
        let tail = page(&deep, all.iter(), 1_000_000);
        let ids: Vec<&str> = tail.reviews.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 10);
        assert_eq!(ids[0], all[COUNT_CAP + 31].id);
        assert_eq!(
            tail.next.map(|c| c.id),
            Some(all[COUNT_CAP + 40].id.clone())
        );
        // A small queue is counted whole.
        let few = page(&query, all[..25].iter(), 1_000_000);
        assert_eq!((few.total, few.capped), (25, false));
    }

    #[test]
    fn a_claim_holds_only_until_its_time() {
        let mut r = review(1);
        r.claim = Some(crate::state::store::review::ReviewClaim {
            by: "ana".into(),
            until: 100,
        });
        assert_eq!(ReviewStatus::of(&r, 99), ReviewStatus::Claimed);
        assert_eq!(ReviewStatus::of(&r, 100), ReviewStatus::Waiting);
        assert_eq!(
            ReviewStatus::parse("escalated"),
            Some(ReviewStatus::Escalated)
        );
    }
}
