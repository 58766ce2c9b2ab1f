//! The requests a run plans before it sends: what the engine will ask PingOne for the rows the
//! survey found ([`Workload`], counted by `later`), kind by kind, so the progress display can
//! count requests done against them and estimate the time left from the pace granted.
//!
//! It mirrors how the engine works a row (the module doc of `dispatch`): one look-up per
//! batch of usernames, one device read per user when the run looks before it creates (the list is kept
//! for the user's later rows), a POST per row, an MFA switch per user. It is an estimate, not
//! a promise: retries, a row a look-up settles without a POST, a duplicate found in stage 3
//! or a user named both ways make the requests differ; the display copes with a plan that
//! falls short or runs over.

use crate::config::RunMode;
use crate::model::OnExisting;

/// The rows a run will work and their users, as the survey counted them: valid rows that no
/// earlier run finished, and their distinct users by the way the file names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) rows: u64,
    pub(crate) users_by_id: u64,
    /// Distinct usernames (case-folded): each is one look-up.
    pub(crate) usernames: u64,
    /// Users with a row whose device an earlier run may have made (`--resume`, or an
    /// errors.csv fed back): the engine reads their devices before it creates.
    pub(crate) users_maybe_made: u64,
}

impl Workload {
    fn users(&self) -> u64 {
        self.users_by_id + self.usernames
    }
}

/// What the engine's path depends on, for the plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanRules {
    pub(crate) mode: RunMode,
    pub(crate) on_existing: OnExisting,
    pub(crate) enable_mfa: bool,
}

/// The requests the run plans, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RequestPlan {
    /// Username look-ups: one per batch of names (`dispatch/lookups.rs`).
    pub(crate) lookups: u64,
    /// Reads of a user's devices.
    pub(crate) reads: u64,
    /// Users' MFA switches (a live run's PUT, an online dry run's GET).
    pub(crate) switches: u64,
    /// Device creations.
    pub(crate) posts: u64,
    /// Devices removed (DELETE, `replace`): not known before the users' devices are read, so
    /// planned as none; the display copes with a plan that falls short.
    pub(crate) removals: u64,
    /// An online dry run's reads of the environment: the MFA settings and the policy.
    pub(crate) environment: u64,
}

/// Look-ups of `usernames` distinct names, in full batches: what a file whose usernames
/// are not far apart costs. Names spread thin among rows by ID, or long enough to fill a
/// batch's URL first, cost more.
fn lookups(usernames: u64) -> u64 {
    usernames.div_ceil(super::lookups::BATCH_NAMES as u64)
}

impl RequestPlan {
    /// The plan for `work` under `rules`; `None` when the run sends nothing.
    pub(crate) fn for_rows(work: Workload, rules: PlanRules) -> Option<RequestPlan> {
        let users = work.users();
        match rules.mode {
            RunMode::DryRunOffline => None,
            RunMode::Live => {
                let reads = match rules.on_existing {
                    OnExisting::Skip | OnExisting::Replace => users,
                    OnExisting::Create => work.users_maybe_made,
                };
                Some(RequestPlan {
                    lookups: lookups(work.usernames),
                    reads,
                    // A PUT per user (at most: none where the switch is on), and a GET first
                    // for users named by ID, whose look-up did not carry the switch.
                    switches: if rules.enable_mfa {
                        users + work.users_by_id
                    } else {
                        0
                    },
                    posts: work.rows,
                    removals: 0,
                    environment: 0,
                })
            }
            // A plan reads each row's user's devices; a username's look-up carries the
            // user's switch, so only users named by ID have it read.
            RunMode::DryRunOnline => Some(RequestPlan {
                lookups: lookups(work.usernames),
                reads: work.rows,
                switches: work.users_by_id,
                posts: 0,
                removals: 0,
                environment: if work.rows > 0 { 2 } else { 0 },
            }),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.lookups + self.reads + self.switches + self.posts + self.removals + self.environment
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::lookups::BATCH_NAMES;

    const WORK: Workload = Workload {
        rows: 10,
        users_by_id: 3,
        usernames: 2,
        users_maybe_made: 1,
    };

    fn rules(mode: RunMode, on_existing: OnExisting, enable_mfa: bool) -> PlanRules {
        PlanRules {
            mode,
            on_existing,
            enable_mfa,
        }
    }

    #[test]
    fn a_live_run_plans_a_look_up_per_batch_a_read_and_a_switch_per_user_a_post_per_row() {
        let skip = RequestPlan::for_rows(WORK, rules(RunMode::Live, OnExisting::Skip, true));
        assert_eq!(skip.map(|p| p.total()), Some(1 + 5 + (5 + 3) + 10));
        let create = RequestPlan::for_rows(WORK, rules(RunMode::Live, OnExisting::Create, false));
        assert_eq!(
            create.map(|p| (p.reads, p.switches, p.total())),
            Some((1, 0, 1 + 1 + 10)),
            "a read only for the user whose device an earlier run may have made"
        );
    }

    #[test]
    fn an_online_dry_run_reads_each_row_and_an_offline_one_plans_nothing() {
        let online =
            RequestPlan::for_rows(WORK, rules(RunMode::DryRunOnline, OnExisting::Skip, false));
        assert_eq!(
            online.map(|p| (p.reads, p.posts, p.switches)),
            Some((10, 0, 3))
        );
        let many = Workload {
            usernames: 2 * BATCH_NAMES as u64 + 1,
            ..WORK
        };
        let batches =
            RequestPlan::for_rows(many, rules(RunMode::DryRunOnline, OnExisting::Skip, false));
        assert_eq!(batches.map(|p| p.lookups), Some(3), "batches of names");
        let offline =
            RequestPlan::for_rows(WORK, rules(RunMode::DryRunOffline, OnExisting::Skip, false));
        assert_eq!(offline, None);
    }
}
