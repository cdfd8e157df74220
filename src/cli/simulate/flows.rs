//! The flows `garita simulate` walks, as data: after the code's creation, each step sends
//! one notification (or resends the last, or sends a forgery straight to the backend) and
//! says what garita should do with it and which events the store should then hold.
//!
//! The flows stand for what the provider does in the sandbox before going live: success
//! (`paid`), an unpaid code lapsing (`expired`), a refund after payment (`refunded`), a
//! retry of a delivered notification (`duplicate`), a notification that comes late
//! (stale past the signature's tolerance where the scheme signs a time, else a redelivery
//! of a settled event under a new operation number), a forgery (refused by garita, and by
//! the backend when it reaches it directly), events out of order (`expired`, then `paid`),
//! and a backend that times out on the first delivery (the provider's retry must then go
//! through).

use crate::state::store::CodeEvent;

/// A flow's name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flow {
    Paid,
    Expired,
    Refunded,
    Duplicate,
    Late,
    Forged,
    OutOfOrder,
    Timeout,
}

/// What a step sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// A notification of `event` signed now, under operation number `op`.
    Notify { event: CodeEvent, op: u8 },
    /// The same, signed an hour past the scheme's tolerance.
    Stale { event: CodeEvent, op: u8 },
    /// The same, its body changed after signing.
    Forged { event: CodeEvent, op: u8 },
    /// A forgery sent to the backend itself, past garita.
    ForgedToBackend { event: CodeEvent, op: u8 },
    /// The same, with the backend asked to answer later than garita waits.
    Slow { event: CodeEvent, op: u8 },
    /// The previous step's request again, byte for byte (the provider's retry).
    Again,
}

/// What garita should do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Verified and forwarded; the backend accepts it (2xx).
    Forwarded,
    /// Acknowledged as delivered before (200), not forwarded.
    Duplicate,
    /// Refused by garita with this reason (401 and the like).
    Refused(&'static str),
    /// Forwarded, and garita answers 504: the backend did not answer in time.
    TimedOut,
    /// The backend itself refuses it (any status but 2xx).
    BackendRefuses,
}

pub struct Step {
    pub name: &'static str,
    pub send: Send,
    pub expect: Expect,
    /// The events the store holds for the code afterwards.
    pub events: &'static [CodeEvent],
}

const fn step(
    name: &'static str,
    send: Send,
    expect: Expect,
    events: &'static [CodeEvent],
) -> Step {
    Step {
        name,
        send,
        expect,
        events,
    }
}

use CodeEvent::{Expired, Paid, Refunded};

/// The steps of `flow` after the creation; `timestamped`: the scheme signs a time.
pub fn steps(flow: Flow, timestamped: bool) -> Vec<Step> {
    let paid = |op| Send::Notify { event: Paid, op };
    match flow {
        Flow::Paid => vec![step("paid", paid(1), Expect::Forwarded, &[Paid])],
        Flow::Expired => vec![step(
            "expired",
            Send::Notify {
                event: Expired,
                op: 1,
            },
            Expect::Forwarded,
            &[Expired],
        )],
        Flow::Refunded => vec![
            step("paid", paid(1), Expect::Forwarded, &[Paid]),
            step(
                "refunded",
                Send::Notify {
                    event: Refunded,
                    op: 2,
                },
                Expect::Forwarded,
                &[Paid, Refunded],
            ),
        ],
        Flow::Duplicate => vec![
            step("paid", paid(1), Expect::Forwarded, &[Paid]),
            step("paid again", Send::Again, Expect::Duplicate, &[Paid]),
        ],
        Flow::Late if timestamped => vec![step(
            "paid, signed past the tolerance",
            Send::Stale { event: Paid, op: 1 },
            Expect::Refused("timestamp_too_old"),
            &[],
        )],
        Flow::Late => vec![
            step("paid", paid(1), Expect::Forwarded, &[Paid]),
            step(
                "paid again later, under a new operation number",
                paid(2),
                Expect::Forwarded,
                &[Paid],
            ),
        ],
        Flow::Forged => vec![
            step(
                "paid, forged",
                Send::Forged { event: Paid, op: 1 },
                Expect::Refused("bad_signature"),
                &[],
            ),
            step(
                "paid, forged, straight to the backend",
                Send::ForgedToBackend { event: Paid, op: 1 },
                Expect::BackendRefuses,
                &[],
            ),
            step("paid", paid(2), Expect::Forwarded, &[Paid]),
        ],
        Flow::OutOfOrder => vec![
            step(
                "expired",
                Send::Notify {
                    event: Expired,
                    op: 1,
                },
                Expect::Forwarded,
                &[Expired],
            ),
            step(
                "paid, after it expired",
                paid(2),
                Expect::Forwarded,
                &[Paid, Expired],
            ),
        ],
        Flow::Timeout => vec![
            step(
                "paid, the backend too slow",
                Send::Slow { event: Paid, op: 1 },
                Expect::TimedOut,
                &[],
            ),
            step(
                "paid, the provider's retry",
                Send::Again,
                Expect::Forwarded,
                &[Paid],
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_ends_with_what_the_store_should_hold() {
        let last = |flow, timestamped| {
            steps(flow, timestamped)
                .last()
                .map(|s| s.events.to_vec())
                .unwrap()
        };
        assert_eq!(last(Flow::Paid, false), [Paid]);
        assert_eq!(last(Flow::Refunded, false), [Paid, Refunded]);
        assert_eq!(last(Flow::Late, true), []);
        assert_eq!(last(Flow::Late, false), [Paid]);
        assert_eq!(last(Flow::Forged, false), [Paid]);
        assert_eq!(last(Flow::Timeout, false), [Paid]);
        assert_eq!(
            steps(Flow::Late, true)[0].expect,
            Expect::Refused("timestamp_too_old")
        );
    }
}
