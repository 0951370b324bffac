#![no_main]
//! Meta Cloud API webhook body -> provider-neutral events: exactly what `ingress::meta::receive`
//! runs once the signature has verified. No input may panic; every accepted message must name
//! an addressable sender (BSUID or phone), the invariant persist relies on.
use balas::domain::InboundEvent;
use balas::ingress::meta::parse_events;
use libfuzzer_sys::fuzz_target;

/// The seeds' `metadata.phone_number_id`; changes for other numbers are skipped by design.
const PHONE_NUMBER_ID: &str = "106540352242922";

fuzz_target!(|data: &[u8]| {
    let Ok(events) = parse_events(data, PHONE_NUMBER_ID) else { return };
    for event in &events {
        // Debug and Display mask identities by slicing strings: exercise them on every shape.
        let _ = format!("{event:?}");
        match event {
            InboundEvent::Message(m) => {
                assert!(m.from.is_addressable(), "a message event without a usable sender");
                if let Some(phone) = &m.from.phone {
                    assert!(phone.expose().starts_with('+'), "phone not in E.164 form");
                    let _ = phone.to_string();
                }
                if let Some(bsuid) = &m.from.bsuid {
                    let _ = bsuid.to_string();
                }
            }
            InboundEvent::Status(s) => {
                let _ = s.status.as_str();
            }
            InboundEvent::IdentityChange(c) => {
                let _ = (c.previous.to_string(), c.current.to_string());
            }
        }
    }
});
