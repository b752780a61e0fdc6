using System.Diagnostics;
using System.Text.Json;
using OpenTelemetry.Resources;

namespace MeshLite.Tracing.Export;

/// <summary>Writes spans as an OTLP/JSON <c>ExportTraceServiceRequest</c> (hex ids, string nanoseconds), the shape Jaeger's and OTLP's tools read.</summary>
internal static class OtlpJsonWriter
{
    public static void Write(Utf8JsonWriter json, Resource resource, IReadOnlyList<Activity> spans)
    {
        json.WriteStartObject();
        json.WriteStartArray("resourceSpans");
        json.WriteStartObject();
        json.WriteStartObject("resource");
        json.WriteStartArray("attributes");
        foreach (var (key, value) in resource.Attributes)
        {
            WriteAttribute(json, key, value);
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartArray("scopeSpans");
        json.WriteStartObject();
        json.WriteStartObject("scope");
        json.WriteString("name", spans.Count > 0 ? spans[0].Source.Name : string.Empty);
        json.WriteEndObject();
        json.WriteStartArray("spans");
        foreach (var span in spans)
        {
            WriteSpan(json, span);
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteSpan(Utf8JsonWriter json, Activity span)
    {
        json.WriteStartObject();
        json.WriteString("traceId", span.TraceId.ToHexString());
        json.WriteString("spanId", span.SpanId.ToHexString());
        if (span.ParentSpanId != default)
        {
            json.WriteString("parentSpanId", span.ParentSpanId.ToHexString());
        }

        if (!string.IsNullOrEmpty(span.TraceStateString))
        {
            json.WriteString("traceState", span.TraceStateString);
        }

        json.WriteString("name", span.DisplayName);
        json.WriteNumber("kind", span.Kind switch
        {
            ActivityKind.Server => 2,
            ActivityKind.Client => 3,
            ActivityKind.Producer => 4,
            ActivityKind.Consumer => 5,
            _ => 1,
        });
        var start = (span.StartTimeUtc - DateTime.UnixEpoch).Ticks * 100;
        json.WriteString("startTimeUnixNano", start.ToString(System.Globalization.CultureInfo.InvariantCulture));
        json.WriteString("endTimeUnixNano", (start + span.Duration.Ticks * 100).ToString(System.Globalization.CultureInfo.InvariantCulture));
        WriteAttributes(json, span.TagObjects);
        if (span.Events.Any())
        {
            // Retries, propagation breaks: what happened during the span, each with its time and attributes.
            json.WriteStartArray("events");
            foreach (var spanEvent in span.Events)
            {
                json.WriteStartObject();
                json.WriteString("timeUnixNano", ((spanEvent.Timestamp.UtcDateTime - DateTime.UnixEpoch).Ticks * 100).ToString(System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("name", spanEvent.Name);
                WriteAttributes(json, spanEvent.Tags);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        if (span.Links.Any())
        {
            json.WriteStartArray("links");
            foreach (var link in span.Links)
            {
                json.WriteStartObject();
                json.WriteString("traceId", link.Context.TraceId.ToHexString());
                json.WriteString("spanId", link.Context.SpanId.ToHexString());
                if (link.Tags?.Any() == true)
                {
                    WriteAttributes(json, link.Tags);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteStartObject("status");
        if (span.Status == ActivityStatusCode.Error)
        {
            json.WriteNumber("code", 2);
            if (!string.IsNullOrEmpty(span.StatusDescription))
            {
                json.WriteString("message", span.StatusDescription);
            }
        }
        else if (span.Status == ActivityStatusCode.Ok)
        {
            json.WriteNumber("code", 1);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteAttributes(Utf8JsonWriter json, IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        json.WriteStartArray("attributes");
        foreach (var (key, value) in attributes)
        {
            WriteAttribute(json, key, value);
        }

        json.WriteEndArray();
    }

    private static void WriteAttribute(Utf8JsonWriter json, string key, object? value)
    {
        json.WriteStartObject();
        json.WriteString("key", key);
        json.WriteStartObject("value");
        switch (value)
        {
            case bool b:
                json.WriteBoolean("boolValue", b);
                break;
            case int or long:
                json.WriteString("intValue", Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case double d:
                json.WriteNumber("doubleValue", d);
                break;
            default:
                json.WriteString("stringValue", Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }
}
