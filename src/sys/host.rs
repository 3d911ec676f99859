//! Host names and addresses: the resolver calls std does not offer
//! (canonical names, reverse look-ups).
