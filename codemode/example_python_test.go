package codemode_test

import (
	"context"
	"fmt"

	"github.com/isobox/isobox/codemode"
)

type forecastIn struct {
	City string `json:"city" jsonschema:"the city"`
}

type forecastOut struct {
	Temp float64 `json:"temp"`
}

// The Python form of a tool, as a model that writes Python is shown it.
func ExamplePythonTypes() {
	tools := []codemode.Tool{codemode.NewTool("forecast", "Tomorrow's forecast.",
		func(ctx context.Context, in forecastIn) (forecastOut, error) { return forecastOut{Temp: 21}, nil })}
	types, err := codemode.PythonTypes(codemode.Provider{Name: "weather", Tools: tools})
	if err != nil {
		panic(err)
	}
	fmt.Print(types)
	// Output:
	// class WeatherForecastOutput(TypedDict):
	//     temp: float
	//
	// class weather:
	//     async def forecast(*, city: str) -> WeatherForecastOutput:
	//         """Tomorrow's forecast.
	//
	//         city: the city
	//         """
	//         ...
}
