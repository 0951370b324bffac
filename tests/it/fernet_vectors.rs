//! The Fernet spec vectors: our keys and tokens are standard Fernet, readable by any
//! conforming implementation (Python's `cryptography` among them).
use chrono::DateTime;
use fernet::Fernet;
use serde_json::Value;

fn vectors(name: &str) -> Vec<Value> {
    let text = match name {
        "generate" => include_str!("../fixtures/fernet/generate.json"),
        "verify" => include_str!("../fixtures/fernet/verify.json"),
        _ => include_str!("../fixtures/fernet/invalid.json"),
    };
    serde_json::from_str(text).expect("vector file")
}

fn at(v: &Value) -> u64 {
    DateTime::parse_from_rfc3339(v["now"].as_str().unwrap()).unwrap().timestamp() as u64
}

#[test]
fn generate_and_verify_vectors_decrypt() {
    for v in vectors("generate").iter().chain(vectors("verify").iter()) {
        let f = Fernet::new(v["secret"].as_str().unwrap()).expect("spec key");
        let ttl = v["ttl_sec"].as_u64();
        let plain = f.decrypt_at_time(v["token"].as_str().unwrap(), ttl, at(v)).expect("valid vector");
        assert_eq!(plain, v["src"].as_str().unwrap().as_bytes());
    }
}

#[test]
fn every_invalid_vector_is_rejected() {
    let invalid = vectors("invalid");
    assert_eq!(invalid.len(), 8);
    for v in invalid {
        let f = Fernet::new(v["secret"].as_str().unwrap()).expect("spec key");
        let result = f.decrypt_at_time(v["token"].as_str().unwrap(), v["ttl_sec"].as_u64(), at(&v));
        assert!(result.is_err(), "accepted invalid vector: {}", v["desc"]);
    }
}

#[test]
fn the_spec_key_works_as_a_balas_master_key() {
    let secret = vectors("generate")[0]["secret"].as_str().unwrap().to_string();
    let vault = balas::crypto::Vault::from_keys(&secret.into()).expect("spec key accepted");
    let (key, wrapped) = vault.new_data_key().unwrap();
    let token = key.encrypt("halo");
    assert_eq!(vault.unwrap_key(&wrapped).unwrap().decrypt(&token).unwrap(), "halo");
    assert!(token.starts_with("gAAAAA"), "standard Fernet tokens start with version 0x80");
}
