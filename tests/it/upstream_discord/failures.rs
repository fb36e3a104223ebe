//! Discord failing mid-sign-in: its token endpoint answering 500, refusing keyward's
//! client, never answering, or answering 10 MB; its user document not JSON or naming nobody.
//! Each is a page that says what went wrong (502, or 504 for the deadline), creates nobody,
//! and leaves the server serving.

use std::time::{Duration, Instant};

use super::discord::Mode;
use super::{
    assert_problem, assert_signed_in, assert_signed_out, begin, sign_in_through_discord, world,
    World, CLIENT_SECRET,
};
use crate::forms::{decode_entities, Browser};

#[test]
fn issue_12_discord_token_endpoint_failing_or_refusing_is_a_502_page_and_keyward_keeps_serving() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    discord.set_mode(Mode::TokenFails);
    let browser = Browser::new();
    let page = sign_in_through_discord(&browser, server, discord);
    assert_problem(
        &page,
        502,
        &[
            "Discord is not working right now",
            "Discord answered with HTTP status 500, so you were not signed in",
            "Nothing was changed",
        ],
    );
    assert_eq!(discord.token_requests().len(), 1);
    assert!(discord.userinfo_requests().is_empty());
    assert_eq!(server.healthz(), 200);
    assert_eq!(data.user_count(), 0);
    assert_signed_out(&browser, server);

    // A secret Discord does not know: it refuses the client, and the page says so.
    discord.set_mode(Mode::Normal);
    data.run_with_stdin(
        &["upstream", "set", "discord", "--client-secret-stdin"],
        "not-the-discord-secret\n",
    )
    .ok();
    let page = sign_in_through_discord(&browser, server, discord);
    assert_problem(
        &page,
        502,
        &[
            "Discord refused the sign-in",
            "it answered 'invalid_client'",
            "Nothing was changed",
        ],
    );
    assert_eq!(discord.token_requests().last().unwrap().status, 401);
    assert!(discord.userinfo_requests().is_empty());
    assert_eq!(data.user_count(), 0);

    // Discord fixed, the secret put right: the same server signs the next one in.
    data.run_with_stdin(
        &["upstream", "set", "discord", "--client-secret-stdin"],
        &format!("{CLIENT_SECRET}\n"),
    )
    .ok();
    let page = sign_in_through_discord(&browser, server, discord);
    assert_signed_in(&page, "/account");
    assert_eq!(data.user_count(), 1);
}

#[test]
fn issue_12_discord_token_endpoint_that_never_answers_is_a_504_page_after_the_deadline() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    discord.set_mode(Mode::TokenHangs);
    let browser = Browser::new();
    let begun = begin(&browser, server, discord);
    let started = Instant::now();
    let page = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| browser.get(begun.callback.as_str()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while discord.token_requests().is_empty() {
            assert!(Instant::now() < deadline, "keyward never called Discord");
            std::thread::sleep(Duration::from_millis(20));
        }
        // One sign-in waiting on Discord holds nobody else up.
        assert_eq!(server.healthz(), 200);
        let login = Browser::new().get(&server.url("/login"));
        assert_eq!(login.status, 200, "{}", login.describe());
        assert!(
            !waiting.is_finished(),
            "the callback did not wait for Discord"
        );
        waiting.join().expect("the callback answers")
    });
    let waited = started.elapsed();
    assert_problem(
        &page,
        504,
        &[
            "Discord is not answering",
            "Discord did not answer in time, so you were not signed in",
            "Nothing was changed",
        ],
    );
    // keyward's deadline for the whole call is 10 s.
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "answered after {waited:?}"
    );
    assert_eq!(
        discord.token_requests()[0].status,
        0,
        "Discord never answered"
    );
    assert!(discord.userinfo_requests().is_empty());
    assert_eq!(data.user_count(), 0);
    assert_signed_out(&browser, server);
    assert_eq!(server.healthz(), 200);
}

#[test]
fn issue_12_discord_token_response_of_10_mb_is_refused_with_a_502_page() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    for declared_length in [true, false] {
        discord.set_mode(Mode::TokenHuge { declared_length });
        let browser = Browser::new();
        let started = Instant::now();
        let page = sign_in_through_discord(&browser, server, discord);
        assert_problem(
            &page,
            502,
            &[
                "Discord is not working right now",
                "Discord sent an answer larger than the 256 KiB allowed",
                "Nothing was changed",
            ],
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "refused while reading, not at the deadline (Content-Length sent: \
             {declared_length}): {:?}",
            started.elapsed()
        );
        assert!(discord.userinfo_requests().is_empty());
        assert_eq!(data.user_count(), 0);
        assert_signed_out(&browser, server);
        assert_eq!(server.healthz(), 200);
    }
    assert_eq!(discord.token_requests().len(), 2);
}

#[test]
fn issue_12_discord_user_document_that_is_not_json_or_names_nobody_is_a_502_page() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    let cases: [(Mode, &[&str]); 2] = [
        (
            Mode::UserinfoGarbage,
            &[
                "Discord is not working right now",
                "Discord sent an answer keyward cannot read (not JSON)",
            ],
        ),
        (
            Mode::UserinfoWithoutId,
            &[
                "Discord's answer was refused",
                "its user document has no usable 'id' field",
            ],
        ),
    ];
    for (mode, words) in cases {
        discord.set_mode(mode);
        let browser = Browser::new();
        let page = sign_in_through_discord(&browser, server, discord);
        assert_problem(&page, 502, words);
        assert!(decode_entities(&page.body).contains("Nothing was changed"));
        assert_eq!(discord.token_requests().last().unwrap().status, 200);
        assert_eq!(data.user_count(), 0, "{mode:?}");
        assert_signed_out(&browser, server);
    }
    assert_eq!(discord.userinfo_requests().len(), 2);
}
