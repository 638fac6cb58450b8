"""The media-controller: wraps the mediasoup service behind the call-api's internal media API."""
