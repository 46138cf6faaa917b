use std::path::Path;

use redline_demo_target::{TargetArgs, TargetHandle};

use crate::{args, client, serve, start};

async fn put(c: &reqwest::Client, t: &TargetHandle, key: &str, value: &str) -> u16 {
    c.put(format!("{}/kv/{key}", t.url()))
        .body(value.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get(c: &reqwest::Client, t: &TargetHandle, key: &str) -> Option<String> {
    let resp = c.get(format!("{}/kv/{key}", t.url())).send().await.unwrap();
    match resp.status().as_u16() {
        200 => Some(resp.text().await.unwrap()),
        404 => None,
        s => panic!("GET /kv/{key}: {s}"),
    }
}

async fn delete(c: &reqwest::Client, t: &TargetHandle, key: &str) -> u16 {
    let resp = c.delete(format!("{}/kv/{key}", t.url())).send().await;
    resp.unwrap().status().as_u16()
}

#[tokio::test]
async fn put_get_delete() {
    serve(args(), async |t, c| {
        assert_eq!(put(&c, &t, "a", "1").await, 201);
        assert_eq!(put(&c, &t, "a", "2").await, 204);
        assert_eq!(get(&c, &t, "a").await.as_deref(), Some("2"));
        assert_eq!(get(&c, &t, "missing").await, None);
        assert_eq!(delete(&c, &t, "a").await, 204);
        assert_eq!(delete(&c, &t, "a").await, 404);
        assert_eq!(get(&c, &t, "a").await, None);
    })
    .await
}

async fn write_keys(t: &TargetHandle, n: usize) {
    let c = client();
    let statuses = futures::future::join_all((0..n).map(|i| {
        let c = c.clone();
        let url = format!("{}/kv/key-{i}", t.url());
        async move {
            c.put(url)
                .body(format!("value-{i}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
}

async fn count_readable(t: &TargetHandle, n: usize) -> usize {
    let c = client();
    let mut found = 0;
    for i in 0..n {
        if let Some(v) = get(&c, t, &format!("key-{i}")).await {
            assert_eq!(v, format!("value-{i}"));
            found += 1;
        }
    }
    found
}

fn with_file(path: &Path, ack_before_write: bool) -> TargetArgs {
    TargetArgs {
        kv_file: Some(path.to_owned()),
        kv_ack_before_write: ack_before_write,
        ..args()
    }
}

#[tokio::test]
async fn durable_kv_keeps_acknowledged_writes_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.log");
    serve(with_file(&path, false), async |t, c| {
        write_keys(&t, 50).await;
        assert_eq!(delete(&c, &t, "key-0").await, 204);
        t.shutdown().await.unwrap();

        let t = start(with_file(&path, false)).await;
        assert_eq!(count_readable(&t, 50).await, 49);
        assert_eq!(get(&c, &t, "key-0").await, None);
    })
    .await
}

/// Writes acknowledged but never made durable (kept in memory only, or acknowledged before the
/// file write) are readable until the restart and gone after it.
#[tokio::test]
async fn unsynced_writes_are_lost_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.log");
    let cases = [
        ("memory", args(), args()),
        (
            "ack before write",
            with_file(&path, true),
            with_file(&path, false),
        ),
    ];
    for (name, first, after_restart) in cases {
        serve(first, async |t, _| {
            write_keys(&t, 10).await;
            let before = count_readable(&t, 10).await;
            assert_eq!(before, 10, "{name}: acked and readable before the restart");
            t.shutdown().await.unwrap();
            let t = start(after_restart).await;
            assert_eq!(count_readable(&t, 10).await, 0, "{name}");
        })
        .await
    }
}
