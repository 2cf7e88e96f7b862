package api

// Streaming a JSON submission: the base64 inputs of a POST /v1/jobs body go to
// storage while the body is read, so a 60 MB body costs the API one storage part,
// not the body (and its copies) in memory.
//
// scanSubmission reads the body once. It copies the body into a skeleton — the same
// JSON with every run of whitespace cut to one space — except the string value of
// "base64" in an input (target, reference, source or an element of a source list),
// which it pipes through a base64 decoder into storage as it arrives and replaces in
// the skeleton by a short placeholder naming the stored result. The skeleton (at most
// maxSkeleton bytes) is then decoded exactly as a whole body was before, strictly
// (decodeStrict), so everything else in the body is checked as it always was: a
// skeleton is valid JSON, and decodes, exactly when the body does (a string token is
// replaced by a string token, and whitespace runs stay whitespace). resolveInput then
// takes each input's stored result where the body had its base64.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// maxSkeleton caps what a JSON body may hold besides its base64 inputs (options,
// webhook, keys, URLs): far more than any real job needs.
const maxSkeleton = 1 << 20

// dataURLHead is how far into a base64 value a data: URL's ";base64," is looked for.
const dataURLHead = 4 << 10

// placeholderPrefix starts the string that stands for a streamed base64 value in the
// skeleton. It cannot be forged: every string in a base64 position is streamed, so a
// placeholder found there is always one of ours.
const placeholderPrefix = "\x00streamed:"

// streamStore stores one streamed input under name, reading r (decoded bytes) to its
// end or until it fails.
type streamStore func(name string, r io.Reader) (jobs.Input, error)

// streamedInput is what storing one base64 value gave.
type streamedInput struct {
	in   jobs.Input
	err  error
	used bool
}

// streamedInputs are the stored results of a body's base64 values, in body order.
type streamedInputs struct {
	list []*streamedInput
}

// take returns the result a placeholder names and marks it used.
func (s *streamedInputs) take(placeholder string) (*streamedInput, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(placeholder, placeholderPrefix))
	if s == nil || !strings.HasPrefix(placeholder, placeholderPrefix) || err != nil || n < 0 || n >= len(s.list) {
		return nil, false
	}
	s.list[n].used = true
	return s.list[n], true
}

// unused lists the storage keys stored for values the submission did not use (a key
// given twice in the body: the last one counts, as in encoding/json).
func (s *streamedInputs) unused() []string {
	var keys []string
	for _, r := range s.list {
		if !r.used && r.err == nil && r.in.Key != "" {
			keys = append(keys, r.in.Key)
		}
	}
	return keys
}

// scanResult is what scanSubmission read.
type scanResult struct {
	skeleton []byte
	streamed *streamedInputs
	// readErr is the first error reading the body itself (too large, cut off by the
	// client's connection); it wins over everything else.
	readErr error
	// syntaxErr is a fault of the body that the scanner found itself (a control
	// character or bad escape in a base64 string, a body that ends inside one, a
	// skeleton over maxSkeleton); it is reported as the body being invalid.
	syntaxErr error
}

// frame roles: what an object or array in the body is to a submission.
const (
	roleOther      = iota
	roleTop        // the submission object
	roleInput      // an input object
	roleSourceList // the list of sources
)

type frame struct {
	role       int
	array      bool
	afterColon bool   // in an object: the next token is a value
	key        string // in an object: the last key, decoded
	index      int    // in an array: the element's index
	name       string // of an input: its storage name (target, reference, source-N)
}

type scanner struct {
	br         *bufio.Reader
	skel       []byte
	stack      []frame
	seenTop    bool
	store      streamStore
	maxSources int
	names      map[string]bool
	res        scanResult
}

// scanSubmission reads body (all of it) as described in the file comment, storing
// each base64 input through store. A source at an index of maxSources or more is not
// stored (the submission is refused for its count anyway).
func scanSubmission(body io.Reader, maxSources int, store streamStore) scanResult {
	br := scanBuffers.Get().(*bufio.Reader)
	br.Reset(&stickyReader{r: body})
	defer func() {
		br.Reset(nil)
		scanBuffers.Put(br)
	}()
	s := &scanner{
		br:         br,
		store:      store,
		maxSources: maxSources,
		names:      map[string]bool{},
	}
	s.res.streamed = &streamedInputs{}
	err := s.scan()
	if err != nil {
		s.fail(err)
	}
	if s.res.readErr == nil {
		// The fingerprint covers the whole body and a too-large body is told as such,
		// whatever stopped the scan.
		if _, err := io.Copy(io.Discard, s.br); err != nil {
			s.fail(err)
		}
	}
	s.res.skeleton = s.skel
	return s.res
}

// scanBuffers keeps the scanners' 64 KiB read buffers between submissions: most
// bodies are a few hundred bytes, and a fresh buffer each took 7% of the API's
// CPU in a profile at 2,000 submits/s (allocating and clearing it, then collecting
// it). Nothing a scan returns points into its buffer.
var scanBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// fail records err as a read error when it came from the body, else as the body's
// syntax error, keeping the first of each.
func (s *scanner) fail(err error) {
	var re *readFailure
	if errors.As(err, &re) {
		if s.res.readErr == nil {
			s.res.readErr = re.err
		}
		return
	}
	if s.res.syntaxErr == nil {
		s.res.syntaxErr = err
	}
}

// readFailure marks an error of the body's own reader.
type readFailure struct{ err error }

func (e *readFailure) Error() string { return e.err.Error() }
func (e *readFailure) Unwrap() error { return e.err }

// stickyReader wraps the body's errors (other than EOF) in readFailure.
type stickyReader struct{ r io.Reader }

func (s *stickyReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readFailure{err}
	}
	return n, err
}

func (s *scanner) emit(b ...byte) error {
	s.skel = append(s.skel, b...)
	if len(s.skel) > maxSkeleton {
		return errcode.New(errcode.InvalidRequest, "the body holds more than %d bytes besides its base64 inputs", maxSkeleton)
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) scan() error {
	for {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case isSpace(c):
			if n := len(s.skel); n > 0 && s.skel[n-1] != ' ' {
				if err := s.emit(' '); err != nil {
					return err
				}
			}
		case c == '{' || c == '[':
			role, name := s.slot()
			if c == '{' && role == roleSourceList {
				role = roleOther // a list where one input is expected
			}
			if c == '[' && role != roleSourceList {
				role = roleOther
			}
			if c == '{' && role == roleOther && name != "" {
				role = roleInput
			}
			s.stack = append(s.stack, frame{role: role, array: c == '[', name: name})
			if err := s.emit(c); err != nil {
				return err
			}
		case c == '}' || c == ']':
			if len(s.stack) > 0 {
				s.stack = s.stack[:len(s.stack)-1]
			}
			s.seenTop = true
			if err := s.emit(c); err != nil {
				return err
			}
		case c == ':':
			if f := s.top(); f != nil && !f.array {
				f.afterColon = true
			}
			if err := s.emit(c); err != nil {
				return err
			}
		case c == ',':
			if f := s.top(); f != nil {
				f.afterColon = false
				f.index++
			}
			if err := s.emit(c); err != nil {
				return err
			}
		case c == '"':
			if err := s.str(); err != nil {
				return err
			}
		default:
			if len(s.stack) == 0 {
				s.seenTop = true
			}
			if err := s.emit(c); err != nil {
				return err
			}
		}
	}
}

func (s *scanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// slot says what a value starting now is: the role its object or array takes, and,
// when it is an input, the input's storage name. roleOther with a name means "an
// input, if this value is an object".
func (s *scanner) slot() (role int, name string) {
	f := s.top()
	switch {
	case f == nil:
		if s.seenTop {
			return roleOther, ""
		}
		return roleTop, ""
	case f.role == roleTop && !f.array && f.afterColon:
		switch {
		case strings.EqualFold(f.key, "target"):
			return roleOther, "target"
		case strings.EqualFold(f.key, "reference"):
			return roleOther, "reference"
		case strings.EqualFold(f.key, "source"):
			return roleSourceList, "source-0"
		}
	case f.role == roleSourceList && f.array:
		return roleOther, fmt.Sprintf("source-%d", f.index)
	}
	return roleOther, ""
}

// str handles a string token (its opening quote read): a key, a base64 value to
// stream, or any other string, copied.
func (s *scanner) str() error {
	f := s.top()
	if f != nil && !f.array && !f.afterColon {
		start := len(s.skel)
		if err := s.copyString(); err != nil {
			return err
		}
		f.key = ""
		if raw := s.skel[start:]; len(raw) <= 256 {
			var k string
			if json.Unmarshal(raw, &k) == nil {
				f.key = k
			}
		}
		return nil
	}
	if len(s.stack) == 0 {
		s.seenTop = true
	}
	if f != nil && f.role == roleInput && !f.array && f.afterColon && strings.EqualFold(f.key, "base64") {
		if next, err := s.br.Peek(1); err == nil && next[0] == '"' {
			s.br.ReadByte()
			return s.emit('"', '"') // "" is no base64 at all, as it always was
		}
		return s.stream(f.name)
	}
	return s.copyString()
}

// copyString copies the rest of a string token, closing quote included.
func (s *scanner) copyString() error {
	if err := s.emit('"'); err != nil {
		return err
	}
	for {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			return nil // the skeleton ends inside a string: it does not decode
		}
		if err != nil {
			return err
		}
		if err := s.emit(c); err != nil {
			return err
		}
		switch c {
		case '"':
			return nil
		case '\\':
			c, err := s.br.ReadByte()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.emit(c); err != nil {
				return err
			}
		}
	}
}

// stream stores the base64 string value now being read under name (made unique in
// this body) and puts its placeholder in the skeleton.
func (s *scanner) stream(name string) error {
	base := name
	for i := 2; s.names[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	s.names[name] = true
	r := &streamedInput{}
	n := len(s.res.streamed.list)
	s.res.streamed.list = append(s.res.streamed.list, r)
	// The placeholder as a JSON string (placeholderPrefix starts with a NUL).
	if err := s.emit([]byte(`"\u0000` + placeholderPrefix[1:] + strconv.Itoa(n) + `"`)...); err != nil {
		return err
	}
	sr := &stringReader{br: s.br}
	if i, err := strconv.Atoi(strings.TrimPrefix(base, "source-")); err == nil && i >= s.maxSources {
		r.err = errcode.New(errcode.InvalidRequest, "more than %d sources", s.maxSources)
	} else {
		r.in, r.err = s.store(name, base64Payload(sr))
	}
	// Whatever storage took, the rest of the string is read (a refused input is
	// skipped to the next field), and its faults are the body's.
	if _, err := io.Copy(io.Discard, sr); err != nil {
		return err
	}
	return sr.err
}

// base64Payload decodes a base64 value, after a data: URL's "data:…;base64," head.
func base64Payload(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, dataURLHead)
	if head, _ := br.Peek(dataURLHead); bytes.HasPrefix(head, []byte("data:")) {
		if i := bytes.Index(head, []byte(";base64,")); i >= 0 {
			_, _ = br.Discard(i + len(";base64,"))
		}
	}
	return base64.NewDecoder(base64.StdEncoding, br)
}

// stringReader reads the content of a JSON string (its opening quote read) with its
// escapes undone, up to its closing quote, then io.EOF. A fault of the string is
// kept in err (and returned): the body is then not valid JSON.
type stringReader struct {
	br   *bufio.Reader
	done bool
	err  error
	buf  [utf8.UTFMax]byte
	pend []byte // decoded bytes of an escape not yet returned
}

func (r *stringReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(p) {
		if len(r.pend) > 0 {
			c := copy(p[n:], r.pend)
			r.pend, n = r.pend[c:], n+c
			continue
		}
		if r.done {
			break
		}
		if k := r.br.Buffered(); k > 0 {
			// Copy the plain run of what is buffered in one go.
			b, _ := r.br.Peek(min(k, len(p)-n))
			i := 0
			for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
				i++
			}
			if i > 0 {
				copy(p[n:], b[:i])
				_, _ = r.br.Discard(i)
				n += i
				continue
			}
		} else if n > 0 {
			break // return what is here rather than wait on the client
		}
		c, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = errcode.New(errcode.InvalidRequest, "the body is not a valid job: it ends inside a string")
			}
			r.err = err
			break
		}
		switch {
		case c == '"':
			r.done = true
		case c < 0x20:
			r.err = errcode.New(errcode.InvalidRequest, "the body is not a valid job: invalid character %q in a string", c)
		case c == '\\':
			r.err = r.escape()
		default:
			p[n] = c
			n++
		}
		if r.err != nil {
			break
		}
	}
	if n > 0 {
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// escape undoes one escape (its backslash read) into pend.
func (r *stringReader) escape() error {
	bad := errcode.New(errcode.InvalidRequest, "the body is not a valid job: invalid escape in a string")
	c, err := r.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			return bad
		}
		return err
	}
	switch c {
	case '"', '\\', '/':
		r.buf[0] = c
	case 'b':
		r.buf[0] = '\b'
	case 'f':
		r.buf[0] = '\f'
	case 'n':
		r.buf[0] = '\n'
	case 'r':
		r.buf[0] = '\r'
	case 't':
		r.buf[0] = '\t'
	case 'u':
		var hex [4]byte
		if _, err := io.ReadFull(r.br, hex[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return bad
			}
			return err
		}
		v, err := strconv.ParseUint(string(hex[:]), 16, 16)
		if err != nil {
			return bad
		}
		// Nothing outside ASCII is base64, so surrogate pairs need not be joined:
		// any such rune fails the decoder just the same.
		r.pend = utf8.AppendRune(r.buf[:0], rune(v))
		return nil
	default:
		return bad
	}
	r.pend = r.buf[:1]
	return nil
}
