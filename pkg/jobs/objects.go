package jobs

// Where a job's files live in object storage. Every key is derived from the job id
// alone, so a re-run writes over its own earlier files instead of adding more, and
// deleting a job is deleting one prefix. (Uploads from POST /v1/uploads live under
// their key's prefix instead, see api.UploadPrefix: they exist before any job.)

// ObjectPrefix is the prefix of every object stored for job id.
func ObjectPrefix(id string) string { return "jobs/" + id + "/" }

// InputKey is where an input the API received in the request itself is stored
// (name: "source-0", "target", "reference").
func InputKey(id, name string) string { return ObjectPrefix(id) + name }

// OutputPrefix is the prefix of the job's result, whatever its format.
func OutputPrefix(id string) string { return ObjectPrefix(id) + "output." }

// OutputKey is where the job's result lives: format is an image output format
// ("png"; anything else is JPEG) or "mp4".
func OutputKey(id, format string) string {
	switch format {
	case "png", "mp4":
		return OutputPrefix(id) + format
	}
	return OutputPrefix(id) + "jpg"
}
