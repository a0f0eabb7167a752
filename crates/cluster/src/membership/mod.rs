//! SWIM membership on foca (see `docs/cluster.md`, "Membership").
