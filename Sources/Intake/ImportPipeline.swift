import Dispatch
import Foundation
import LetheCore
import Phone

/// A record on its way through the pipeline: read and numbered on the reading thread, with the row id its
/// sealed values are bound to when the import writes, and the keys that already refuse it (JSONL).
struct PendingRecord: Sendable {
    let record: InputRecord
    let id: Int64?
    /// Keys that are not fields of the target (JSONL): the record is reported, not validated.
    let unknownKeys: [String]
}

/// What a worker made of one record. Applied to the report in file order, so reports do not depend on timing.
enum RecordOutcome: Sendable {
    case unknownKeys([String], line: Int)
    case problem(ImportReport.LineProblem)
    case valid(acceptance: PhoneAcceptance, encoding: SMSEncoding?, line: [UInt8]?)
}

/// What one worker thread owns: a validator (its phone verdict cache is shared) and, when the import writes, an
/// encoder with its own cipher and MAC contexts. Used by one thread at a time.
final class RecordWorker: @unchecked Sendable {
    let validator: RowValidator
    let encoder: RowEncoder?

    init(validator: RowValidator, encoder: RowEncoder?) {
        self.validator = validator
        self.encoder = encoder
    }

    func process(_ batch: [PendingRecord], encode: Bool) throws -> [RecordOutcome] {
        let encoder = encode ? self.encoder : nil
        let validator = self.validator
        var outcomes: [RecordOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for pending in batch {
            guard pending.unknownKeys.isEmpty else {
                outcomes.append(.unknownKeys(pending.unknownKeys, line: pending.record.line))
                continue
            }
            switch validator.validate(pending.record) {
            case .failure(let problem):
                outcomes.append(.problem(problem))
            case .success(let row):
                var line: [UInt8]?
                if let encoder, let id = pending.id { line = try encoder.line(row, id: id) }
                outcomes.append(.valid(acceptance: row.phoneAcceptance, encoding: row.encoding, line: line))
            }
        }
        return outcomes
    }
}

/// Validates, normalises, seals and encodes records on `workers.count` threads, in batches. Outcomes come back in
/// submission order. At most `8 × workers` batches are in flight, so memory stays flat with file size (with 2 ×, the
/// client sat idle while the server caught up: 1M rows took 11.1-11.3 s, against 10.3-10.5 s).
/// With one worker everything runs on the calling thread, in order: the sequential import, for comparison.
/// With more, `stream` reads the file on a thread of its own while the calling thread applies outcomes and writes
/// COPY: the reader never waits for the socket, and the database always has the next rows waiting.
final class ImportPipeline: @unchecked Sendable {

    private final class Slot: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var outcomes: [RecordOutcome] = []
        var error: (any Error)?
    }

    private let workers: [RecordWorker]
    private let queues: [DispatchQueue]
    /// Guards `inFlight`, `submitted` and `cancelled`: `stream` submits on the reading thread and takes outcomes on
    /// the caller's.
    private let lock = NSLock()
    private var inFlight: [Slot] = []
    private var submitted = 0
    private var cancelled = false

    init(workers: [RecordWorker]) {
        precondition(!workers.isEmpty)
        self.workers = workers
        queues = workers.indices.map { DispatchQueue(label: "lethe.import.worker.\($0)") }
    }

    var pending: Int { lock.withLock { inFlight.count } }
    var capacity: Int { 8 * workers.count }
    var isSequential: Bool { workers.count == 1 }

    /// Queues a batch; with one worker, processes it now.
    func submit(_ batch: [PendingRecord], encode: Bool) {
        let slot = Slot()
        if workers.count == 1 {
            do { slot.outcomes = try workers[0].process(batch, encode: encode) } catch { slot.error = error }
            slot.done.signal()
        } else {
            let index = lock.withLock { submitted % workers.count }
            let worker = workers[index]
            queues[index].async {
                do { slot.outcomes = try worker.process(batch, encode: encode) } catch { slot.error = error }
                slot.done.signal()
            }
        }
        lock.withLock {
            submitted += 1
            inFlight.append(slot)
        }
    }

    /// The oldest batch's outcomes, waiting for them; rethrows a worker's error.
    func next() throws -> [RecordOutcome] {
        let slot = lock.withLock { inFlight.removeFirst() }
        slot.done.wait()
        if let error = slot.error { throw error }
        return slot.outcomes
    }

    /// Waits for every queued batch (after an error, so no worker still uses what the caller tears down).
    func drainQuietly() {
        while pending > 0 { _ = try? next() }
    }

    private struct Cancelled: Error {}

    /// Runs `read` on a thread of its own, giving it a `submit` that blocks while `capacity` batches are in
    /// flight, and applies every batch's outcomes on the calling thread in submission order. The reader's error,
    /// a worker's or `apply`'s ends the stream at that point, in file order; the reader has stopped and no worker
    /// is busy when this returns or throws. Returns what `read` returned.
    func stream<Result>(read: @escaping (_ submit: ([PendingRecord], Bool) throws -> Void) throws -> Result,
                        apply: ([RecordOutcome]) throws -> Void) throws -> Result {
        let room = DispatchSemaphore(value: capacity)
        let ready = DispatchSemaphore(value: 0)
        let readerDone = DispatchSemaphore(value: 0)
        let box = ReadingThreadBox(read: read)
        let thread = Thread { [self] in
            box.result = Swift.Result {
                try box.read { batch, encode in
                    room.wait()
                    if lock.withLock({ cancelled }) { throw Cancelled() }
                    submit(batch, encode: encode)
                    ready.signal()
                }
            }
            ready.signal()  // the end: no more batches after those already signalled
            readerDone.signal()
        }
        thread.stackSize = 1 << 22
        thread.start()
        do {
            while true {
                ready.wait()
                // Either a batch was queued, or the reader ended (with every batch it queued signalled before).
                guard pending > 0 else { break }
                let outcomes = try next()
                room.signal()
                try apply(outcomes)
            }
        } catch {
            lock.withLock { cancelled = true }
            room.signal()
            readerDone.wait()
            drainQuietly()
            throw error
        }
        readerDone.wait()
        switch box.result {
        case .success(let value)?: return value
        case .failure(let error)?: throw error
        case nil: throw LetheError.software("the import's reading thread ended without a result")
        }
    }
}

/// The reading function and its result, handed to the reading thread. What the reader uses (the record reader,
/// the id session) is used by that thread alone until it has ended, and the result is read after that.
private final class ReadingThreadBox<Result>: @unchecked Sendable {
    let read: (_ submit: ([PendingRecord], Bool) throws -> Void) throws -> Result
    var result: Swift.Result<Result, any Error>?

    init(read: @escaping (_ submit: ([PendingRecord], Bool) throws -> Void) throws -> Result) { self.read = read }
}

/// Set once the import is known to be refused (on the thread applying outcomes), read by the reading thread.
final class RefusalFlag: Sendable {
    private let flag = Locked(false)

    var isSet: Bool { flag.value }
    func set() { flag.withLock { $0 = true } }
}
