//! Command::parse on arbitrary bytes: never panics; a parsed command
//! serializes to a line that parses back to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::command::Command;

fuzz_target!(|data: &[u8]| {
    match Command::parse(data) {
        Ok(command) => {
            let line = command.to_string();
            let again = Command::parse(line.as_bytes())
                .unwrap_or_else(|e| panic!("{line:?} does not parse back: {e}"));
            assert_eq!(again, command, "{line:?}");
            let mut wire = Vec::new();
            command.write_to(&mut wire);
            assert_eq!(wire, format!("{line}\r\n").into_bytes());
            let _ = command.verb();
        }
        Err(error) => {
            // Every parse error maps to a well-formed reply.
            let reply = error.reply();
            assert!((400..600).contains(&reply.code), "{error}: {reply}");
        }
    }
});
