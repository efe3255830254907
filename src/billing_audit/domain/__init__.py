"""Pure audit domain: policy, values, the timeline replay, detection rules, money and risk. No I/O."""
