"""One call's spans as a waterfall: `tracewaterfall serve` receives OTLP/HTTP, `render` draws."""
