//! TODO(helper): see /work/notes/wire-api.md
