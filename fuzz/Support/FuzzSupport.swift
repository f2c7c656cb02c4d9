// Shared by every libFuzzer target: property failures and the per-input time budget.
//
// A failed property aborts the process, so libFuzzer writes the input to a crash file and the run
// fails. The budget is CPU time of the fuzzing thread (not wall time), so a busy machine does not
// turn into false findings; `TACK_FUZZ_SLOW_MS` overrides the default of 100 ms.

#if canImport(Glibc)
import Glibc
#endif

/// Prints why the input broke a property, then aborts (libFuzzer saves the input).
func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fputs("FUZZ PROPERTY FAILED at \(file):\(line): \(message)\n", stderr)
    abort()
}

/// Fails the run when `condition` does not hold.
func fuzzExpect(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fuzzFail(message(), file: file, line: line) }
}

/// The largest CPU time one input may take, in nanoseconds.
let fuzzBudgetNanoseconds: Int = {
    if let text = getenv("TACK_FUZZ_SLOW_MS"), let ms = Int(String(cString: text)), ms > 0 { return ms * 1_000_000 }
    return 100 * 1_000_000
}()

/// CPU time of the calling thread.
func threadCPUNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// Copies libFuzzer's input, runs `body` on it and fails if it took more than the budget.
func fuzzRun(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: ([UInt8]) -> Void) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let start = threadCPUNanoseconds()
    body(bytes)
    let elapsed = threadCPUNanoseconds() - start
    if elapsed > fuzzBudgetNanoseconds {
        fuzzFail("one input of \(size) bytes took \(elapsed / 1_000_000) ms of CPU, over the \(fuzzBudgetNanoseconds / 1_000_000) ms budget")
    }
    return 0
}

/// A short printable rendering of a value for failure messages.
func fuzzShow(_ value: some Any) -> String {
    let text = String(reflecting: value)
    return text.count > 300 ? String(text.prefix(300)) + "…" : text
}
