//! The store as a Source and a Sink of the transfer engine.

use crate::fixture::*;

#[tokio::test]
async fn source_and_sink_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_provenance("registry.test:5000");
    let layer: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let ld = sha(&layer);
    let target = ImageRef::parse("registry.test:5000/team/app:v1").unwrap();
    assert!(!Sink::has_blob(&store, &target, &ld).await.unwrap());
    let chunks: Vec<sigmirror_oci::Result<bytes::Bytes>> = layer
        .chunks(100_000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    Sink::put_blob(
        &store,
        &target,
        &ld,
        layer.len() as u64,
        Box::pin(futures_util::stream::iter(chunks)),
    )
    .await
    .unwrap();
    assert!(Sink::has_blob(&store, &target, &ld).await.unwrap());

    // A lying stream is refused and leaves nothing.
    let wrong = sha(b"something else");
    let lie = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"not it"))]);
    let err = Sink::put_blob(&store, &target, &wrong, 6, Box::pin(lie))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(!store.has_blob(&wrong));

    let config = b"{}".to_vec();
    let cd = put_blob(&store, &config);
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &cd, 2),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &ld, layer.len())],
    }))
    .unwrap();
    let manifest = Manifest {
        digest: sha(&body),
        bytes: body.into(),
        media_type: String::new(),
    };
    Sink::put_manifest(&store, &target, &manifest)
        .await
        .unwrap();
    assert_eq!(
        store
            .manifest_info(&manifest.digest)
            .unwrap()
            .unwrap()
            .source,
        "registry.test:5000"
    );

    let got = Source::get_manifest(&store, &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, manifest.bytes);
    assert_eq!(got.digest, manifest.digest);
    assert_eq!(got.media_type, OCI_MANIFEST); // inferred: stored without one
    let by_digest = target.with_digest(&manifest.digest);
    assert_eq!(
        Source::get_manifest(&store, &by_digest)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        manifest.bytes
    );
    assert!(
        Source::get_manifest(&store, &target.with_tag("v2"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Source::get_manifest(&store, &target.with_digest(&wrong))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        Source::get_blob(&store, &target, &cd, 10).await.unwrap(),
        config
    );
    assert!(Source::get_blob(&store, &target, &ld, 10).await.is_err());
    let mut stream = Source::open_blob(&store, &target, &ld).await.unwrap();
    let mut back = vec![];
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 1 << 20);
        back.extend_from_slice(&chunk);
    }
    assert_eq!(back, layer);

    // A corrupted blob: the stream ends in an error that says so, get_blob refuses it.
    flip_byte(&store.blob_path(&ld).unwrap());
    let mut stream = Source::open_blob(&store, &target, &ld).await.unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let err = last.unwrap().unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    flip_byte(&store.blob_path(&cd).unwrap());
    let err = Source::get_blob(&store, &target, &cd, 10)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}
