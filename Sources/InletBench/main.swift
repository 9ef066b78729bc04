// InletBench: the CPU cost of Inlet's hot path, MessageParser.parse (scan + validate + encode
// into binary-COPY rows), on one core, in release mode.
//
//   swift build -c release --product InletBench
//   .build/release/InletBench BODIES_FILE [SECONDS_PER_CASE]
//
// BODIES_FILE holds one request body per line, as written by scripts/loadgen/loadgen.py
// (`--out-bodies`); every body is parsed over and over for SECONDS_PER_CASE (default 3) and the
// cost is reported per message and per KB. One line per case, machine-readable after `RESULT`.
import Foundation
import InletMessages
import PostgresClient

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: InletBench BODIES_FILE [SECONDS_PER_CASE]") }
let secondsPerCase = arguments.count >= 3 ? (Double(arguments[2]) ?? 3) : 3
guard let data = FileManager.default.contents(atPath: arguments[1]) else { fail("cannot read \(arguments[1])") }

// One body per line (the generator writes compact JSON: no raw newlines inside a body).
var bodies: [[UInt8]] = []
var start = data.startIndex
for index in data.indices where data[index] == UInt8(ascii: "\n") {
    if index > start { bodies.append(Array(data[start..<index])) }
    start = index + 1
}
if start < data.endIndex { bodies.append(Array(data[start...])) }
guard !bodies.isEmpty else { fail("no bodies in \(arguments[1])") }

let parser = MessageParser()
let arrival = Timestamp.now()

// Check once, untimed, that every body parses and how many rows it gives.
var messagesPerPass = 0
var rowsPerPass = 0
var bytesPerPass = 0
var encodedPerPass = 0
for body in bodies {
    do {
        let batch = try parser.parse(body, tenantID: 1, impliedType: nil, arrival: arrival)
        if !batch.rejects.isEmpty { fail("body rejected messages: \(batch.rejects[0].reason)") }
        messagesPerPass += batch.messageCount
        rowsPerPass += batch.rows.count
        encodedPerPass += batch.encodedByteCount
    } catch {
        fail("body does not parse: \(error)")
    }
    bytesPerPass += body.count
}

// Timed: whole passes over all bodies until the time is up. The sink keeps the optimizer from
// dropping the work.
let clock = ContinuousClock()
var sink = 0
var passes = 0
// Warm-up pass (caches, allocator).
for body in bodies { sink &+= (try? parser.parse(body, tenantID: 1, impliedType: nil, arrival: arrival))?.rows.count ?? 0 }
let deadline = clock.now.advanced(by: .milliseconds(Int64(secondsPerCase * 1000)))
let began = clock.now
while clock.now < deadline {
    for body in bodies {
        do {
            let batch = try parser.parse(body, tenantID: 1, impliedType: nil, arrival: arrival)
            sink &+= batch.rows.count
        } catch {
            fail("body does not parse: \(error)")
        }
    }
    passes += 1
}
let elapsed = began.duration(to: clock.now)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let messages = Double(messagesPerPass * passes)
let microsPerMessage = seconds * 1e6 / messages
let avgMessageBytes = Double(bytesPerPass) / Double(messagesPerPass)
let microsPerKB = microsPerMessage * 1024 / avgMessageBytes
let mbPerSecond = Double(bytesPerPass * passes) / seconds / 1e6
guard sink == rowsPerPass * (passes + 1) else { fail("row count changed between passes") }
print(
    String(
        format: "RESULT bodies=%d messages=%d avg_msg_bytes=%.0f encoded_bytes_per_msg=%.0f passes=%d "
            + "us_per_msg=%.3f us_per_kb=%.3f msgs_per_s=%.0f mb_per_s=%.1f",
        bodies.count, messagesPerPass, avgMessageBytes, Double(encodedPerPass) / Double(messagesPerPass), passes,
        microsPerMessage, microsPerKB, messages / seconds, mbPerSecond))
