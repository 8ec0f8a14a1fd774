//! Two plugins in one Wasm VM (`envoy/shared-vm/`), as Istio runs two WasmPlugins with the same
//! image: every request is decided by its own filter's configuration, whatever is pushed to the
//! other, and a filter taken out and put back gets its own configuration again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sticky_canary_e2e::bootstrap::SHARED_VM_FILTERS;
use sticky_canary_e2e::ramp::{wait_until_routing_follows, ForwardOnly};
use sticky_canary_e2e::traffic::Traffic;
use sticky_canary_e2e::{service_a_config, subset_of, Client, Delivery, Envoy, EnvoyOptions};

const SERVICE_A: &str = SHARED_VM_FILTERS[0].0;
const BLUE_GREEN: &str = SHARED_VM_FILTERS[1].0;
const VM_ACTIVE: &str = "wasm.envoy.wasm.runtime.v8.active";
const UNCONFIGURED: &str = "wasmcustom.sticky_canary.unconfigured_total";

fn blue_green(green: u32) -> String {
    serde_json::json!({
        "routingHeader": "x-bg-subset",
        "routes": [{
            "name": "blue-green",
            "subsets": [{"name": "blue", "weight": 100 - green}, {"name": "green", "weight": green}],
            "stickiness": {"keys": [{"header": "x-user-id"}]}
        }]
    })
    .to_string()
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i}")).collect()
}

/// Sends each user once with both routing headers forged, and checks that each filter's own
/// configuration decided: `service-a` routed (which upstream served, what it received) and
/// `blue-green` wrote `x-bg-subset` (what the upstream received). `blue_green: None`: that
/// filter has no Wasm now, so the forged value passes.
fn assert_each_decides_by_its_own(
    client: &mut Client,
    users: &[String],
    service_a: &str,
    blue_green: Option<&str>,
) {
    for user in users {
        let subset = subset_of(service_a, user);
        let forged_subset: &[u8] = if subset == "v1" { b"v2" } else { b"v1" };
        let response = client.get(
            "/",
            &[
                ("x-user-id", user.as_bytes()),
                ("x-canary-subset", forged_subset),
                ("x-bg-subset", b"forged"),
            ],
        );
        assert_eq!(response.status, 200, "{user}");
        assert_eq!(response.served_by(), subset, "{user}: served by");
        assert_eq!(response.received_subset(), Some(subset.as_str()), "{user}");
        let expected_bg = blue_green.map_or("forged".to_string(), |c| subset_of(c, user));
        assert_eq!(
            response.header("x-received-bg"),
            Some(expected_bg.as_str()),
            "{user}: x-bg-subset the upstream received"
        );
    }
}

/// Makes `push` to `filter` and waits until ECDS has accepted it.
fn push_accepted(envoy: &mut Envoy, filter: &str, push: impl FnOnce(&mut Envoy)) {
    let accepted = envoy.ecds_stat_of(filter, "update_success");
    push(envoy);
    envoy.wait_for(
        &format!("{filter} to accept the push"),
        Duration::from_secs(20),
        |e| e.ecds_stat_of(filter, "update_success") > accepted,
    );
}

/// Waits until a request on `client`'s connection (so its worker) reaches the upstream with
/// `x-bg-subset: want` when it was sent with a forged one.
fn wait_blue_green_gives(envoy: &Envoy, client: &mut Client, want: &str) {
    envoy.wait_for(
        &format!("x-bg-subset {want} upstream"),
        Duration::from_secs(20),
        |_| {
            client
                .get("/", &[("x-user-id", b"probe"), ("x-bg-subset", b"forged")])
                .header("x-received-bg")
                == Some(want)
        },
    );
}

#[test]
fn each_plugin_follows_its_own_config_through_40_pushes_to_the_other_under_traffic() {
    let bg = blue_green(50);
    let mut service_a = service_a_config(0);
    let mut envoy = EnvoyOptions::shared_vm(&service_a, &bg).start();

    // One VM per thread for both filters: as many VMs as one filter alone makes.
    let alone = Envoy::start(Delivery::Ecds, &service_a);
    assert_eq!(envoy.stat(VM_ACTIVE), alone.stat(VM_ACTIVE), "VMs");
    drop(alone);

    let background = users(100);
    let traffic = Traffic::start(&envoy, &background);
    let mut client = envoy.front();
    let checked = users(400);
    for push in 1..=40u32 {
        let old = service_a;
        service_a = service_a_config(push * 2);
        push_accepted(&mut envoy, SERVICE_A, |e| {
            e.push_ecds_to(SERVICE_A, &service_a)
        });
        wait_until_routing_follows(&envoy, &checked, &old, &service_a);
        let batch = (push as usize * 10) % checked.len();
        assert_each_decides_by_its_own(
            &mut client,
            &checked[batch..batch + 10],
            &service_a,
            Some(&bg),
        );
    }
    assert_each_decides_by_its_own(&mut client, &checked, &service_a, Some(&bg));
    traffic.wait_until_answered(traffic.answered() + background.len());
    let recorded = traffic.finish();
    recorded.assert_no_failures();
    let mut forward = ForwardOnly::new(&["v1", "v2"], background.len());
    for (user, subset) in recorded.served() {
        forward.observe(user, subset).unwrap();
    }
    // Every rename in the watched directory makes both filters re-read their files; none of
    // that may fail.
    assert_eq!(envoy.ecds_stat_of(BLUE_GREEN, "update_rejected"), 0);
    assert_eq!(envoy.stat(UNCONFIGURED), 0);
}

#[test]
fn a_plugin_taken_out_and_put_back_decides_by_its_new_config_and_the_other_never_notices() {
    let service_a = service_a_config(30);
    let mut envoy = EnvoyOptions::shared_vm(&service_a, &blue_green(50))
        .concurrency(2)
        .start();
    let checked = users(200);
    let mut client = envoy.front();
    assert_each_decides_by_its_own(&mut client, &checked, &service_a, Some(&blue_green(50)));

    push_accepted(&mut envoy, BLUE_GREEN, |e| e.push_no_wasm_to(BLUE_GREEN));
    wait_blue_green_gives(&envoy, &mut client, "forged");
    assert_each_decides_by_its_own(&mut client, &checked, &service_a, None);

    let all_green = blue_green(100);
    push_accepted(&mut envoy, BLUE_GREEN, |e| {
        e.push_ecds_to(BLUE_GREEN, &all_green)
    });
    wait_blue_green_gives(&envoy, &mut client, "green");
    assert_each_decides_by_its_own(&mut client, &checked, &service_a, Some(&all_green));

    // Long enough for the VM to forget the root that was taken out (it stopped ticking), and
    // for a live root to be forgotten too if liveness were misjudged: both still decide, on
    // connections to both workers.
    std::thread::sleep(Duration::from_secs(12));
    for mut worker in envoy.one_client_per_worker() {
        assert_each_decides_by_its_own(&mut worker, &checked, &service_a, Some(&all_green));
    }
    assert_each_decides_by_its_own(&mut client, &checked, &service_a, Some(&all_green));
    assert_eq!(envoy.stat(UNCONFIGURED), 0);
}
