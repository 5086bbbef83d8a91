//! RFC 6962 / RFC 9162 Merkle trees as transparency logs use them: leaf and node hashes, and the
//! verification of an inclusion proof against a root hash.

use sha2::{Digest as _, Sha256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Why an inclusion proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The leaf's index.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The proof has more or fewer hashes than a tree of this size needs.
    #[error("the proof has the wrong number of hashes for this tree")]
    WrongLength,
    /// The hashes lead to another root.
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// Hex of the root the proof computes.
        computed: String,
        /// Hex of the root it must reach.
        expected: String,
    },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The root hash that `proof` computes for the leaf `leaf` at `index` of a tree of `size`
/// leaves (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Checks that `proof` includes the leaf `leaf` at `index` in the tree of `size` leaves whose
/// root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed: hex(&computed),
            expected: hex(root),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root of `leaves` by the RFC's recursive definition, for checking proofs.
    fn root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
            }
        }
    }

    /// The inclusion path of leaf `m` by the RFC's recursive definition.
    fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = n.next_power_of_two() / 2;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(root(&leaves[..k]));
            p
        }
    }

    #[test]
    fn every_leaf_of_every_small_tree_proves_and_nothing_else_does() {
        for size in 1..=20usize {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&[i as u8])).collect();
            let r = root(&leaves);
            for m in 0..size {
                let p = path(m, &leaves);
                verify_inclusion(m as u64, size as u64, &leaves[m], &p, &r).unwrap();
                // Another leaf, index or size does not prove.
                let other = leaf_hash(b"other");
                assert!(verify_inclusion(m as u64, size as u64, &other, &p, &r).is_err());
                if size > 1 {
                    let wrong_index = ((m + 1) % size) as u64;
                    assert!(
                        verify_inclusion(wrong_index, size as u64, &leaves[m], &p, &r).is_err()
                    );
                }
                // A proof does not pin the size by itself (leaf 0 of 3 and of 4 take two
                // hashes each): the checkpoint binds root and size, and is checked apart.
                if path(m, &leaves).len() != path(m, &[leaves.clone(), vec![other]].concat()).len()
                {
                    assert!(
                        verify_inclusion(m as u64, size as u64 + 1, &leaves[m], &p, &r).is_err()
                    );
                }
                if let Some(first) = p.first() {
                    let mut tampered = p.clone();
                    tampered[0][0] ^= 1;
                    assert_ne!(tampered[0], *first);
                    assert!(
                        verify_inclusion(m as u64, size as u64, &leaves[m], &tampered, &r).is_err()
                    );
                }
            }
            assert!(matches!(
                verify_inclusion(size as u64, size as u64, &leaves[0], &[], &r),
                Err(ProofError::IndexOutOfRange { .. })
            ));
        }
    }
}
