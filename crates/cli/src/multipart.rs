//! `multipart/form-data` bodies, as the `maas` CLI sends them: the encoding is `ingot-wire`'s
//! (shared with the agent); the random boundary is chosen here.

use rand::distributions::Alphanumeric;
use rand::Rng;

pub use ingot_wire::{
    encode_form_data as encode_multipart, form_data_content_type as content_type, FormPart as Part,
};

/// A random boundary that occurs in none of the parts.
pub fn generate_boundary(parts: &[Part]) -> String {
    loop {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(30)
            .map(char::from)
            .collect();
        let boundary = format!("ingot-{random}");
        if !ingot_wire::boundary_in_parts(parts, &boundary) {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_avoids_content() {
        let parts = [Part::text("a", "ingot-")];
        let b = generate_boundary(&parts);
        assert!(b.starts_with("ingot-") && b.len() == 36);
        assert_ne!(generate_boundary(&parts), b);
        assert!(!ingot_wire::boundary_in_parts(&parts, &b));
    }
}
