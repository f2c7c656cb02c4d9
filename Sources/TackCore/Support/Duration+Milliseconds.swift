extension Duration {
    /// Whole milliseconds, as Redis `PX`/`PEXPIRE` and scores take them.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds with their fraction, as `TimeInterval` and PostgreSQL's `make_interval(secs =>)` take them.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
