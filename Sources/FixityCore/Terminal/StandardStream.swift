import Glibc

/// stdout and stderr written with write(2), never through `FileHandle.write`: that one traps
/// (`try!` inside) on EPIPE, and SwiftNIO ignores SIGPIPE as soon as a client starts, so a
/// command talking to a server and piped into `head` died with a backtrace instead of ending.
/// A reader that went away ends the command the way a shell expects — by SIGPIPE, status 141 —
/// whether or not the signal is ignored in this process.
public enum StandardStream: Sendable {
    case output
    case error

    private var descriptor: Int32 { self == .output ? 1 : 2 }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    public func write(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { write($0) }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) {
        guard var base = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let written = Glibc.write(descriptor, base, left)
            if written >= 0 {
                base += written
                left -= written
                continue
            }
            switch errno {
            case EINTR, EAGAIN: continue
            case EPIPE: Self.readerGone()
            default: return  // stderr closed or a full disk: nothing better to tell, nowhere to tell it
            }
        }
    }

    /// The reader of our output is gone: end as a shell pipeline expects, silently.
    public static func readerGone() -> Never {
        signal(SIGPIPE, SIG_DFL)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)
    }
}
