//! Every answer says how much of the rate limit is left; past it, clients are told to wait.
//! (One request a minute after the burst, so that no token comes back while the test runs.)

use taccuino_tests::story;

story!(the_status_endpoint_is_public_json, |app| async move {
    let status = app.get("/status").await.expect(200);
    assert!(
        status.content_type().starts_with("application/json"),
        "{status}"
    );
    assert_eq!(status.body["status"], "ok", "{status}");
    assert!(
        status.header("request-id").is_some_and(|id| !id.is_empty()),
        "{status:?}"
    );
});

story!(
    a_client_that_sends_too_much_is_asked_to_wait,
    env = [
        ("TACCUINO_RATE_LIMIT_BURST", "5"),
        ("TACCUINO_RATE_LIMIT_PER_MINUTE", "1")
    ],
    |app| async move {
        let mut remaining = Vec::new();
        let mut request_ids = Vec::new();
        for _ in 0..5 {
            let reply = app.get("/status").await.expect(200);
            assert_eq!(
                reply.header("x-ratelimit-limit"),
                Some("5"),
                "{:?}",
                reply.headers
            );
            assert!(
                reply
                    .header("x-ratelimit-reset")
                    .is_some_and(|r| r.parse::<u64>().is_ok())
            );
            remaining.push(
                reply
                    .header("x-ratelimit-remaining")
                    .and_then(|r| r.parse::<u64>().ok()),
            );
            request_ids.push(reply.header("request-id").map(str::to_owned));
        }
        assert_eq!(remaining, [Some(4), Some(3), Some(2), Some(1), Some(0)]);
        assert!(
            request_ids.iter().all(Option::is_some),
            "every answer has a Request-ID"
        );
        let distinct: std::collections::HashSet<_> = request_ids.iter().collect();
        assert_eq!(distinct.len(), 5, "request ids are unique: {request_ids:?}");

        let limited = app.get("/status").await.expect_problem(429, "rate-limited");
        let retry_after = limited
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok());
        assert!(
            retry_after.is_some_and(|s| (1..=60).contains(&s)),
            "Retry-After: {limited:?}"
        );
        assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
        assert!(limited.header("request-id").is_some(), "{limited:?}");
    }
);
