//! SMTP smuggling: end-of-data look-alikes (RFC 5321 §4.1.1.4, §2.3.8;
//! CVE-2023-51764/51765/51766).
//!
//! Each case sends one message whose body contains a look-alike of the
//! end of data followed by a complete second transaction, then the real
//! `<CRLF>.<CRLF>`. The server's behaviour is one of:
//! * **honoured**: more than one reply: the look-alike ended the data and
//!   the smuggled MAIL/RCPT/DATA ran as commands: a MUST failure for every
//!   vector, since RFC 5321 §4.1.1.4 makes `<CRLF>.<CRLF>` the one end of
//!   the mail data;
//! * **refused**: one 4yz/5yz reply, or the connection closed;
//! * **kept as data**: one 2yz reply for the whole thing. A pass, with a
//!   note in the report: bare-LF content taken (kept, or normalised to
//!   CRLF as Postfix 3.9+ does by default) is what mainstream servers do,
//!   though RFC 5321 §2.3.8 forbids it; bare CR kept is worth knowing too.

use super::{Case, case, custom, pass, violation};
use crate::model::Level::Must;
use crate::model::Verdict;
use crate::server::conn::ConnError;
use crate::server::ctx::{Ctx, Flow, checked};

use smtp_wire::data::smuggling::{VECTORS, Vector};

use super::data::{HEADER, open_data};

const SMUGGLED: &str = concat!(
    "MAIL FROM:<{from}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n",
    "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform SMUGGLED\r\n\r\n",
    "If you read this as a separate message, the server is vulnerable.\r\n",
);

/// One case per vector of the shared corpus, by its index there (a case
/// body is a plain function, so each vector gets one; a test checks that
/// ids, levels and titles follow the corpus).
macro_rules! variant {
    ($name:ident, $index:expr) => {
        async fn $name(ctx: &mut Ctx) -> Flow<Verdict> {
            smuggle(ctx, &VECTORS[$index]).await
        }
    };
}

variant!(lf_dot_lf, 0);
variant!(lf_dot_crlf, 1);
variant!(crlf_dot_lf, 2);
variant!(cr_dot_cr, 3);
variant!(crlf_dot_cr, 4);
variant!(cr_dot_crlf, 5);
variant!(crcrlf_dot_crcrlf, 6);

pub(super) fn cases() -> Vec<Case> {
    const RFC: &str = "RFC 5321 §4.1.1.4, §2.3.8";
    vec![
        case(
            "smuggle.lf-dot-lf",
            Must,
            RFC,
            "<LF>.<LF> does not end the data",
            &[],
            custom!(lf_dot_lf),
        ),
        case(
            "smuggle.lf-dot-crlf",
            Must,
            RFC,
            "<LF>.<CRLF> does not end the data",
            &[],
            custom!(lf_dot_crlf),
        ),
        case(
            "smuggle.crlf-dot-lf",
            Must,
            RFC,
            "<CRLF>.<LF> does not end the data",
            &[],
            custom!(crlf_dot_lf),
        ),
        case(
            "smuggle.cr-dot-cr",
            Must,
            RFC,
            "<CR>.<CR> does not end the data",
            &[],
            custom!(cr_dot_cr),
        ),
        case(
            "smuggle.crlf-dot-cr",
            Must,
            RFC,
            "<CRLF>.<CR> does not end the data",
            &[],
            custom!(crlf_dot_cr),
        ),
        case(
            "smuggle.cr-dot-crlf",
            Must,
            RFC,
            "<CR>.<CRLF> does not end the data",
            &[],
            custom!(cr_dot_crlf),
        ),
        case(
            "smuggle.crcrlf-dot-crcrlf",
            Must,
            RFC,
            "<CR><CR><LF>.<CR><CR><LF> does not end the data",
            &[],
            custom!(crcrlf_dot_crcrlf),
        ),
        case(
            "smuggle.bare-lf-command",
            Must,
            RFC,
            "A command line ended by a bare <LF> is not executed",
            &[],
            custom!(bare_lf_command),
        ),
    ]
}

/// The report's note when a bare-LF vector was kept as data.
const BARE_LF_KEPT: &str = "bare-LF message content accepted (kept, or normalised to CRLF as \
     Postfix 3.9+ does by default): RFC 5321 §2.3.8 forbids it, but the data still ended only at \
     <CRLF>.<CRLF> (a note, not a failure)";

/// The report's note when a bare-CR vector was kept as data.
const BARE_CR_KEPT: &str = "bare-CR message content accepted: passed on unchanged, it \
     lets a downstream that takes CR for a line end be smuggled (RFC 5321 §2.3.8; a note, not a \
     failure)";

async fn smuggle(ctx: &mut Ctx, vector: &Vector) -> Flow<Verdict> {
    let mut conn = open_data(ctx).await?;
    let mut body = ctx.expand(HEADER).into_bytes();
    body.extend_from_slice(b"smtp-conform smuggling probe");
    body.extend_from_slice(vector.fake);
    body.extend_from_slice(ctx.expand(SMUGGLED).as_bytes());
    body.extend_from_slice(b".\r\n");
    checked(conn.send(&body).await, "sending the body")?;
    let first = match conn.reply().await {
        Ok(reply) => reply,
        Err(ConnError::Closed) => return pass("refused: the connection was closed"),
        Err(e) => return checked(Err(e), "end of data"),
    };
    let (more, closed) = checked(
        conn.replies_until_quiet(ctx.grace()).await,
        "after the data",
    )?;
    if !more.is_empty() {
        let codes: Vec<String> = std::iter::once(&first)
            .chain(&more)
            .map(|r| r.code.to_string())
            .collect();
        return violation(format!(
            "honoured: {} ended the data and the smuggled commands ran (replies {})",
            vector.display,
            codes.join(", ")
        ));
    }
    let closed = if closed { ", then closed" } else { "" };
    if first.is_positive() {
        ctx.report_note(if vector.bare_lf {
            BARE_LF_KEPT
        } else {
            BARE_CR_KEPT
        });
        pass(format!("kept as data: one reply ({first}){closed}"))
    } else {
        pass(format!("refused: {first}{closed}"))
    }
}

async fn bare_lf_command(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    checked(conn.send(b"NOOP\n").await, "NOOP<LF>")?;
    checked(conn.send(b"NOOP\r\n").await, "NOOP<CRLF>")?;
    let first = match conn.reply().await {
        Ok(reply) => reply,
        Err(ConnError::Closed) => return pass("refused: the connection was closed"),
        Err(e) => return checked(Err(e), "NOOP<LF>"),
    };
    // Drain the rest so the transcript shows it.
    let _ = conn.replies_until_quiet(ctx.grace()).await;
    if first.is_positive() {
        violation(format!(
            "NOOP<LF> was executed ({first}): a bare LF ended the command line"
        ))
    } else {
        pass(format!("refused: {first}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_vector_of_the_corpus_in_order() {
        let cases = cases();
        let smuggles: Vec<_> = cases
            .iter()
            .filter(|c| c.info.id != "smuggle.bare-lf-command")
            .collect();
        assert_eq!(smuggles.len(), VECTORS.len());
        for (case, vector) in smuggles.iter().zip(VECTORS) {
            assert_eq!(case.info.id, format!("smuggle.{}", vector.name));
            assert_eq!(
                case.info.title,
                format!("{} does not end the data", vector.display)
            );
            // RFC 5321 §4.1.1.4: only <CRLF>.<CRLF> ends the data.
            assert_eq!(case.info.level, Must, "{}", vector.name);
        }
    }
}
