use super::*;
use crate::ir::ErrorKind;
use crate::secret::Secret;

const TTL: Duration = Duration::from_secs(600);

fn spec(id: u64, priority: u32, weight: u32) -> AccountSpec {
    AccountSpec {
        info: AccountInfo {
            id,
            channel: ChannelKind::OpenAi,
            name: format!("a{id}"),
            base_url: "http://x".into(),
            credential: Secret::new("k"),
            weight,
            priority,
            enabled: true,
            max_concurrency: 0,
            models: None,
            state: None,
        },
        health: HealthState::default(),
    }
}

fn pool(specs: Vec<AccountSpec>) -> Pool {
    let p = Pool::default();
    p.replace(specs);
    p
}

fn pick(p: &Pool) -> Result<Lease, NoAccount> {
    p.pick(ChannelKind::OpenAi, "m", None, TTL, &[])
}

#[test]
fn the_lowest_priority_tier_serves_first_and_the_next_when_it_cannot() {
    let p = pool(vec![spec(1, 0, 1), spec(2, 1, 1), spec(3, 0, 1)]);
    for _ in 0..50 {
        assert_ne!(pick(&p).unwrap().account().id, 2);
    }
    let a = pick(&p).unwrap();
    let b = p.pick(ChannelKind::OpenAi, "m", None, TTL, &[a.account().id]).unwrap();
    assert_ne!(a.account().id, b.account().id);
    let c = p.pick(ChannelKind::OpenAi, "m", None, TTL, &[1, 3]).unwrap();
    assert_eq!(c.account().id, 2, "tier 1 once tier 0 is exhausted for this request");
    assert_eq!(
        p.pick(ChannelKind::OpenAi, "m", None, TTL, &[1, 2, 3]).unwrap_err(),
        NoAccount { retry_at: None }
    );
    assert!(p.pick(ChannelKind::Anthropic, "m", None, TTL, &[]).is_err());
}

#[test]
fn load_spreads_by_weight_and_in_flight() {
    let p = pool(vec![spec(1, 0, 3), spec(2, 0, 1)]);
    let held: Vec<Lease> = (0..40).map(|_| pick(&p).unwrap()).collect();
    let on_first = held.iter().filter(|l| l.account().id == 1).count();
    assert!((26..=34).contains(&on_first), "weight 3:1 gives ~30 of 40, got {on_first}");
    drop(held);
    let accounts = p.accounts(ChannelKind::OpenAi);
    assert!(accounts.iter().all(|(_, live)| live.in_flight() == 0), "dropped leases free their slots");
}

#[test]
fn concurrency_caps_hold() {
    let mut s = spec(1, 0, 1);
    s.info.max_concurrency = 2;
    let p = pool(vec![s]);
    let a = pick(&p).unwrap();
    let _b = pick(&p).unwrap();
    assert!(pick(&p).is_err());
    drop(a);
    assert!(pick(&p).is_ok());
}

#[test]
fn disabled_cooling_and_quota_exhausted_accounts_are_skipped() {
    let now = now_ms();
    let mut disabled = spec(1, 0, 1);
    disabled.info.enabled = false;
    let mut cooling = spec(2, 0, 1);
    cooling.health = HealthState {
        reason: Some(Reason::RateLimited),
        cooldown_until: Some(now + 30_000),
        ..Default::default()
    };
    let mut empty = spec(3, 0, 1);
    empty.health =
        HealthState { quota_remaining: Some(0), quota_reset_at: Some(now + 10_000), ..Default::default() };
    let mut reset = spec(4, 1, 1);
    reset.health =
        HealthState { quota_remaining: Some(0), quota_reset_at: Some(now - 1), ..Default::default() };
    let p = pool(vec![disabled, cooling, empty, reset]);
    assert_eq!(pick(&p).unwrap().account().id, 4, "a quota whose window has reset is usable");
    let err = p.pick(ChannelKind::OpenAi, "m", None, TTL, &[4]).unwrap_err();
    let retry_at = err.retry_at.expect("a cooling account");
    assert!((now + 9_000..=now + 11_000).contains(&retry_at), "the earliest comeback is the quota reset");
}

#[test]
fn accounts_serve_only_their_models() {
    let mut narrow = spec(1, 0, 1);
    narrow.info.models = Some(vec!["only".into()]);
    let p = pool(vec![narrow, spec(2, 1, 1)]);
    assert_eq!(p.pick(ChannelKind::OpenAi, "other", None, TTL, &[]).unwrap().account().id, 2);
    assert_eq!(p.pick(ChannelKind::OpenAi, "only", None, TTL, &[]).unwrap().account().id, 1);
    assert!(p.serves(ChannelKind::OpenAi, "other"));
}

// See: reference/client-conventions.md §4.1 (AC-03)
#[test]
fn ac03_sessions_stick_and_rebind_when_their_account_fails() {
    let p = pool((1..=8).map(|i| spec(i, 0, 1)).collect());
    let first = p.pick(ChannelKind::OpenAi, "m", Some("sess"), TTL, &[]).unwrap();
    let bound = first.account().id;
    drop(first);
    for _ in 0..20 {
        assert_eq!(p.pick(ChannelKind::OpenAi, "m", Some("sess"), TTL, &[]).unwrap().account().id, bound);
    }
    let lease = p.pick(ChannelKind::OpenAi, "m", Some("sess"), TTL, &[]).unwrap();
    lease.fail(&UpstreamError::new(ErrorKind::RateLimited));
    drop(lease);
    let rebound = p.pick(ChannelKind::OpenAi, "m", Some("sess"), TTL, &[]).unwrap().account().id;
    assert_ne!(rebound, bound, "the cooling account is left");
    for _ in 0..20 {
        assert_eq!(
            p.pick(ChannelKind::OpenAi, "m", Some("sess"), TTL, &[]).unwrap().account().id,
            rebound,
            "the new binding sticks"
        );
    }
}

#[test]
fn failures_cool_down_and_successes_end_streaks() {
    let p = pool(vec![spec(1, 0, 1)]);
    let lease = pick(&p).unwrap();
    let verdict = lease.fail(&UpstreamError::new(ErrorKind::Server)).unwrap();
    assert_eq!(verdict, Verdict { reason: Reason::UpstreamError, cooldown: Some(Duration::ZERO) });
    assert_eq!(lease.live().streak(), 1);
    lease.succeed();
    assert_eq!(lease.live().streak(), 0);
    for _ in 0..3 {
        lease.fail(&UpstreamError::new(ErrorKind::Timeout));
    }
    drop(lease);
    assert!(pick(&p).is_err(), "three failures in a row cool the account");

    let p = pool(vec![spec(1, 0, 1)]);
    let lease = pick(&p).unwrap();
    assert_eq!(lease.fail(&UpstreamError::new(ErrorKind::InvalidRequest)), None);
    assert_eq!(lease.fail(&UpstreamError::new(ErrorKind::Unauthorized)).unwrap().cooldown, None);
    let health = lease.live().health();
    assert_eq!((health.reason, health.cooldown_until), (Some(Reason::AuthFailed), Some(UNTIL_FIXED)));
}

#[test]
fn rebuilds_keep_live_state_and_apply_stored_health() {
    let p = pool(vec![spec(1, 0, 1), spec(2, 0, 1)]);
    let held = pick(&p).unwrap();
    let id = held.account().id;
    let mut again = vec![spec(1, 0, 1), spec(2, 0, 1)];
    // The store says account 2 is cooling (another instance judged it).
    again[1].health = HealthState {
        reason: Some(Reason::Forbidden),
        cooldown_until: Some(now_ms() + 60_000),
        ..Default::default()
    };
    p.replace(again);
    let live = p.accounts(ChannelKind::OpenAi).into_iter().find(|(i, _)| i.id == id).unwrap().1;
    assert_eq!(live.in_flight(), 1, "in-flight counts survive the swap");
    drop(held);
    assert_eq!(live.in_flight(), 0);
    for _ in 0..20 {
        assert_eq!(pick(&p).unwrap().account().id, 1);
    }
    // An operator's reset reaches the selector.
    p.set_health(2, &HealthState::default());
    assert!((0..50).any(|_| pick(&p).unwrap().account().id == 2));
}

#[test]
fn single_accounts_come_and_go_without_disturbing_the_others() {
    let p = pool(vec![spec(1, 0, 1), spec(2, 0, 1)]);
    let held = pick(&p).unwrap();
    let kept = held.account().id;
    let other = 3 - kept;
    let mut moved = spec(other, 0, 1);
    moved.info.channel = ChannelKind::Anthropic;
    p.upsert(moved);
    for _ in 0..20 {
        assert_eq!(pick(&p).unwrap().account().id, kept, "the other account moved channel");
    }
    assert_eq!(p.pick(ChannelKind::Anthropic, "m", None, TTL, &[]).unwrap().account().id, other);
    let live = p.accounts(ChannelKind::OpenAi).into_iter().find(|(i, _)| i.id == kept).unwrap().1;
    assert_eq!(live.in_flight(), 1, "the held lease survives the other account's move");
    p.remove(kept);
    assert!(pick(&p).is_err());
    drop(held);
    p.upsert(spec(9, 0, 1));
    assert_eq!(pick(&p).unwrap().account().id, 9);
}

#[test]
fn picks_under_contention_never_exceed_caps() {
    let mut specs: Vec<AccountSpec> = (1..=4).map(|i| spec(i, 0, 1)).collect();
    for s in &mut specs {
        s.info.max_concurrency = 3;
    }
    let p = Arc::new(pool(specs));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    if let Ok(lease) = pick(&p) {
                        assert!(lease.live().in_flight() <= 3);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(p.accounts(ChannelKind::OpenAi).iter().all(|(_, l)| l.in_flight() == 0));
}
