//! `cavs-agent`: the classroom camera agent.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("cavs-agent is not built yet: see issue 5")
}
