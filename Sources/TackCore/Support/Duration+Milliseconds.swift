extension Duration {
    /// Whole milliseconds, as Redis `PX`/`PEXPIRE` and scores take them.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
